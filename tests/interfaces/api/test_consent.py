"""Consent over HTTP: the prompt and the recording (multipart), the 403 gate on training, and an
account that cannot see or submit another's consent."""

import pytest

from interfaces.api.app import create_app
from provoice import synthetic
from provoice.accounts import create_account, create_api_key
from provoice.settings import Settings
from tests.conftest import narrator_dataset, read_aloud

pytestmark = pytest.mark.integration


def _caller(catalog, name):
    account = create_account(catalog, name)
    return account.id, {"X-API-Key": create_api_key(catalog, account.id)[1]}


def test_consent_over_http(prefect_harness, settings, monkeypatch, tmp_path, steady_phrase):
    from fastapi.testclient import TestClient

    from flows.prepare import prepare_dataset
    from provoice.voice_models.registry import BaseModelRegistry

    monkeypatch.setenv("PROVOICE_REQUIRE_CONSENT", "true")
    settings = Settings()
    app = create_app(settings)
    with TestClient(app) as client:
        catalog = app.state.catalog
        alice_id, alice = _caller(catalog, "Alice Studio")
        _, bob = _caller(catalog, "bob")
        BaseModelRegistry(settings).create_random("tiny-base", tiny=True)
        ds = narrator_dataset(catalog, tmp_path / "up", 2, account_id=alice_id)
        r = client.post(
            "/fine-tunes", json={"dataset_id": ds.id, "name": "Narrator", "speaker_name": "Dana"}, headers=alice
        )
        assert r.status_code == 201, r.text
        pvc = r.json()
        assert pvc["consent"]["status"] == "none" and pvc["speaker_name"] == "Dana"
        r = client.post(f"/fine-tunes/{pvc['id']}/train", headers=alice)
        assert r.status_code == 403 and r.json()["error"] == "ConsentRequired"
        assert f"/fine-tunes/{pvc['id']}/consent/prompt" in r.json()["detail"]

        r = client.post(f"/fine-tunes/{pvc['id']}/consent/prompt", headers=alice)
        assert r.status_code == 201
        prompt = r.json()
        assert set(prompt) == {"pvc_id", "prompt", "expires_at", "attempts_left"}
        assert "I am Dana," in prompt["prompt"] and "the account Alice Studio" in prompt["prompt"]
        wav = read_aloud(prompt["prompt"], tmp_path / "consent.wav")
        body = [("file", ("consent.wav", wav.read_bytes(), "audio/wav"))]
        r = client.post(f"/fine-tunes/{pvc['id']}/consent", files=body, headers=alice)
        assert r.status_code == 409 and "prepare it first" in r.json()["detail"]

        prepare_dataset(ds.id)
        for path in (f"/fine-tunes/{pvc['id']}/consent/prompt", f"/fine-tunes/{pvc['id']}/consent"):
            r = (
                client.post(path, files=body, headers=bob)
                if path.endswith("consent")
                else client.post(path, headers=bob)
            )
            assert r.status_code == 404, r.text
        assert client.get(f"/fine-tunes/{pvc['id']}", headers=bob).status_code == 404

        two = [*body, ("file", ("again.wav", wav.read_bytes(), "audio/wav"))]
        r = client.post(f"/fine-tunes/{pvc['id']}/consent", files=two, headers=alice)
        assert r.status_code == 422 and "one recording" in r.json()["detail"]
        other = read_aloud(prompt["prompt"], tmp_path / "guest.wav", synthetic.OTHER_VOICE, 70)
        r = client.post(
            f"/fine-tunes/{pvc['id']}/consent",
            headers=alice,
            files=[("file", ("guest.wav", other.read_bytes(), "audio/wav"))],
        )
        assert r.status_code == 200
        refused = r.json()
        assert refused["verified"] is False and refused["reason"].startswith("another speaker")
        assert refused["attempts_left"] == 4 and refused["speaker_similarity"] < 0.75

        r = client.post(f"/fine-tunes/{pvc['id']}/consent", files=body, headers=alice)
        result = r.json()
        assert r.status_code == 200 and result["verified"] is True, result
        assert set(result) == {"verified", "reason", "transcript", "prompt_wer", "speaker_similarity", "attempts_left"}
        shown = client.get(f"/fine-tunes/{pvc['id']}", headers=alice).json()["consent"]
        assert shown["status"] == "verified" and shown["account_id"] == alice_id and shown["recordings"] == 2
        assert shown["recording_name"] == "consent.wav" and shown["speaker_similarity"] == result["speaker_similarity"]
        r = client.post(f"/fine-tunes/{pvc['id']}/train", json={"max_steps": 1}, headers=alice)
        assert r.status_code == 402 and r.json()["error"] == "InsufficientCredits", r.text
