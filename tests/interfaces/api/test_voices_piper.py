"""`GET /voices/{id}/piper`: the voice as a standard Piper voice in a zip, only for its owner, and the
Playground's "Download for Piper" link beside each voice of a PVC."""

from __future__ import annotations

import io
import json
import re
import zipfile

from provoice.pvc.status import PvcStatus
from tests.conftest import served_model
from tests.interfaces.api.conftest import make_voice
from tests.pvc_states import set_status


def test_a_voice_downloads_as_a_piper_voice_zip(client, app, alice, bob, settings):
    voice = make_voice(app.state.catalog, alice.account_id, served_model(settings, quiet=True))
    r = client.get(f"/voices/{voice.id}/piper", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == "attachment; filename=Narrator_1.zip"
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert sorted(archive.namelist()) == ["Narrator_1.md", "Narrator_1.onnx", "Narrator_1.onnx.json"]
    config = json.loads(archive.read("Narrator_1.onnx.json"))
    assert config["num_speakers"] == 1 and config["audio"]["sample_rate"] == 22050
    assert voice.pvc_id in archive.read("Narrator_1.md").decode()

    r = client.get(f"/voices/{voice.id}/piper", headers=bob.headers)
    assert r.status_code == 404 and r.json()["error"] == "NotFound"
    assert client.get("/voices/voice_nope/piper", headers=alice.headers).status_code == 404


def test_the_pvc_page_offers_each_voice_for_piper(client, app, alice, base):
    voice = make_voice(app.state.catalog, alice.account_id, base)
    set_status(app.state.catalog, voice.pvc_id, PvcStatus.COMPLETED, model_id=base)
    login = re.search(r'name="login" value="([^"]+)"', client.get("/ui/sign-in").text).group(1)
    client.post(
        "/ui/sign-in", data={"api_key": alice.headers["X-API-Key"], "login": login, "next": "/"}, follow_redirects=False
    )
    page = client.get(f"/ui/pvcs/{voice.pvc_id}").text
    assert f'<a href="/voices/{voice.id}/piper" download data-piper-download' in page
    assert "Download for Piper" in page
