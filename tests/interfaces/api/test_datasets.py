import pytest
from fastapi.testclient import TestClient

from interfaces.api.app import create_app
from provoice import synthetic
from provoice.accounts import create_api_key
from provoice.settings import ACCEPTED_FORMATS, Settings


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """A short spoken WAV and the same speech as AIFF (a format we do not accept)."""
    synthetic.require_tools()
    d = tmp_path_factory.mktemp("uploads")
    wav = synthetic.speak(synthetic.SENTENCES[0], d / "hello.wav")
    return {"wav": wav, "aiff": synthetic.bad_files(d / "bad", wav)["aiff"]}


def upload(client, caller, dataset_id, *paths):
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    return client.post(f"/datasets/{dataset_id}/files", files=files, headers=caller.headers)


def new_dataset(client, caller, name="My voice") -> str:
    r = client.post("/datasets", json={"name": name}, headers=caller.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_create_upload_show_and_remove(client, alice, audio):
    ds = new_dataset(client, alice)
    r = upload(client, alice, ds, audio["wav"])
    assert r.status_code == 201, r.text
    [f] = r.json()["files"]
    assert (f["name"], f["status"], f["format"], f["reason"]) == ("hello.wav", "pending", "wav", None)
    assert f["size"] == audio["wav"].stat().st_size
    shown = client.get(f"/datasets/{ds}", headers=alice.headers).json()
    assert [x["id"] for x in shown["files"]] == [f["id"]] and shown["latest_preparation"] is None
    assert client.get("/datasets", headers=alice.headers).json()[0]["files"] == 1
    r = client.delete(f"/datasets/{ds}/files/{f['id']}", headers=alice.headers)
    assert r.json() == {"id": ds, "removed": f["id"]}
    assert client.delete(f"/datasets/{ds}/files/{f['id']}", headers=alice.headers).status_code == 404


def test_accounts_see_only_their_own_datasets(client, alice, bob, audio):
    mine = new_dataset(client, alice, "alice's")
    theirs = new_dataset(client, bob, "bob's")
    assert [d["id"] for d in client.get("/datasets", headers=alice.headers).json()] == [mine]
    assert [d["id"] for d in client.get("/datasets", headers=bob.headers).json()] == [theirs]
    r = client.get(f"/datasets/{theirs}", headers=alice.headers)
    assert r.status_code == 404 and r.json()["error"] == "NotFound"
    assert upload(client, alice, theirs, audio["wav"]).status_code == 404
    assert client.post(f"/datasets/{theirs}/prepare", headers=alice.headers).status_code == 404
    f = upload(client, bob, theirs, audio["wav"]).json()["files"][0]
    assert client.delete(f"/datasets/{theirs}/files/{f['id']}", headers=alice.headers).status_code == 404


def test_upload_over_the_limit_is_413(settings, monkeypatch, alice, audio):
    monkeypatch.setenv("PROVOICE_MAX_UPLOAD_BYTES", "4096")
    app = create_app(Settings())
    client = TestClient(app)
    headers = {"X-API-Key": create_api_key(app.state.catalog, alice.account_id)[1]}
    ds = client.post("/datasets", json={"name": "big"}, headers=headers).json()["id"]
    r = client.post(
        f"/datasets/{ds}/files",
        headers=headers,
        files=[("files", ("hello.wav", audio["wav"].read_bytes(), "audio/wav"))],
    )
    assert r.status_code == 413
    assert r.json()["detail"] == "hello.wav is larger than the upload limit of 4 KiB per file"
    assert client.get(f"/datasets/{ds}", headers=headers).json()["files"] == []


def test_unsupported_format_is_415_with_the_accepted_formats(client, alice, audio):
    ds = new_dataset(client, alice)
    r = upload(client, alice, ds, audio["aiff"])
    assert r.status_code == 415
    body = r.json()
    assert body["accepted_formats"] == list(ACCEPTED_FORMATS)
    assert body["detail"].startswith("speech.aiff: unsupported audio format") and "wav, mp3" in body["detail"]
    assert client.get(f"/datasets/{ds}", headers=alice.headers).json()["files"] == []


def test_an_unsupported_file_among_good_ones_is_rejected_not_refused(client, alice, audio):
    ds = new_dataset(client, alice)
    r = upload(client, alice, ds, audio["wav"], audio["aiff"])
    assert r.status_code == 201
    good, bad = r.json()["files"]
    assert good["status"] == "pending"
    assert bad["status"] == "rejected" and "unsupported audio format" in bad["reason"]


def test_bad_requests_are_422(client, alice):
    r = client.post("/datasets", json={}, headers=alice.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]
    ds = new_dataset(client, alice)
    r = client.post(f"/datasets/{ds}/files", data={"name": "no files"}, headers=alice.headers)
    assert r.status_code == 422 and "multipart/form-data" in r.json()["detail"]
    r = client.post(f"/datasets/{ds}/files", files=[("note", (None, "text"))], headers=alice.headers)
    assert r.status_code == 422 and r.json()["detail"].startswith("the upload has no files")
