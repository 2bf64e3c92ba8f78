"""Fine-tunes that wait for their speaker's consent and then train by themselves."""

from __future__ import annotations

import cartesia
import httpx
import pytest

from interfaces.api.runner import PVC_DEPLOYMENT
from provoice.credits import PVC_TRAINING_CREDITS, grant
from tests.conftest import narrator_dataset, read_aloud
from tests.interfaces.api.compat.cartesia.conftest import wav
from tests.interfaces.api.conftest import live


def test_a_fine_tune_waits_for_consent_and_trains_once_it_is_verified(client, served, app, base, launches, monkeypatch):
    ds = client.datasets.create(name="Narration", description="")
    tune = client.fine_tunes.create(
        dataset=ds.id, name="Narrator", description="my voice", language="en", model_id="sonic-3-2026-01-12"
    )
    assert (tune.status, tune.dataset, tune.llm_model_id, tune.language) == ("created", ds.id, "tiny-base", "en")
    consent = tune.consent
    assert consent["required"] is True and consent["status"] == "none" and tune.train_on_consent is True
    assert consent["prompt_url"] == f"/fine-tunes/{tune.id}/consent/prompt"
    assert consent["recording_url"] == f"/fine-tunes/{tune.id}/consent"
    assert client.fine_tunes.retrieve(tune.id).status == "created" and launches == []
    assert [t.id for t in client.fine_tunes.list()] == [served.voice.pvc_id, tune.id]
    assert list(client.fine_tunes.list_voices(tune.id)) == []

    verdicts = iter([False, True, True])
    monkeypatch.setattr("interfaces.api.fine_tunes.submit_recording", _fake_submission(verdicts))
    native = {"X-API-Key": served.key}
    recording = [("file", ("consent.wav", wav(), "audio/wav"))]
    refused = httpx.post(f"{served.url}/fine-tunes/{tune.id}/consent", files=recording, headers=native).json()
    assert refused["verified"] is False and "training" not in refused and launches == []

    poor = httpx.post(f"{served.url}/fine-tunes/{tune.id}/consent", files=recording, headers=native)
    assert poor.status_code == 200 and poor.json()["verified"] is True
    assert poor.json()["training"]["started"] is False and "1,000,000 credits" in poor.json()["training"]["detail"]
    waiting = client.fine_tunes.retrieve(tune.id)
    assert waiting.status == "created" and waiting.consent["status"] == "verified" and launches == []
    assert f"POST /fine-tunes/{tune.id}/train" in waiting.consent["message"]

    grant(app.state.catalog, served.account_id, PVC_TRAINING_CREDITS)
    started = httpx.post(f"{served.url}/fine-tunes/{tune.id}/consent", files=recording, headers=native).json()
    assert started["training"] == {"started": True, "status": "queued", "detail": None}
    assert launches == [{"deployment": PVC_DEPLOYMENT, "pvc_id": tune.id, "retry": False}]
    assert client.fine_tunes.retrieve(tune.id).status == "training"
    with pytest.raises(cartesia.ConflictError):
        client.fine_tunes.delete(tune.id)


def test_a_fine_tune_never_started_can_be_deleted(client, base, launches):
    ds = client.datasets.create(name="Narration", description="")
    tune = client.fine_tunes.create(dataset=ds.id, name="Narrator", description="", language="en", model_id="x")
    client.fine_tunes.delete(tune.id)
    with pytest.raises(cartesia.NotFoundError):
        client.fine_tunes.retrieve(tune.id)
    client.datasets.delete(ds.id)
    with pytest.raises(cartesia.UnprocessableEntityError):
        client.fine_tunes.create(
            dataset=client.datasets.create(name="d", description="").id,
            name="N",
            description="",
            language="xx",
            model_id="x",
        )


@pytest.mark.integration
def test_a_real_reading_of_the_prompt_starts_the_fine_tune(
    prefect_harness, app, alice, base, launches, steady_phrase, tmp_path
):
    """End to end: a Cartesia fine-tune, its speaker's reading checked by Whisper, training started."""
    from flows.prepare import prepare_dataset

    catalog = app.state.catalog
    ds = narrator_dataset(catalog, tmp_path / "up", 2, account_id=alice.account_id)
    prepare_dataset(ds.id)
    grant(catalog, alice.account_id, PVC_TRAINING_CREDITS)
    with live(app) as url:
        client = cartesia.Cartesia(api_key=alice.headers["X-API-Key"], base_url=f"{url}/cartesia", max_retries=0)
        tune = client.fine_tunes.create(
            dataset=ds.id, name="Narrator", description="", language="en", model_id="sonic-3"
        )
        prompt = httpx.post(f"{url}{tune.consent['prompt_url']}", headers=alice.headers).json()["prompt"]
        assert client.fine_tunes.retrieve(tune.id).consent["status"] == "prompted" and launches == []
        reading = read_aloud(prompt, tmp_path / "consent.wav")
        r = httpx.post(
            f"{url}{tune.consent['recording_url']}",
            headers=alice.headers,
            timeout=120,
            files=[("file", ("consent.wav", reading.read_bytes(), "audio/wav"))],
        )
        assert r.status_code == 200 and r.json()["verified"] is True, r.text
        assert r.json()["training"] == {"started": True, "status": "queued", "detail": None}
        shown = client.fine_tunes.retrieve(tune.id)
    assert launches == [{"deployment": PVC_DEPLOYMENT, "pvc_id": tune.id, "retry": False}]
    assert shown.status == "training" and shown.consent["status"] == "verified"


def _fake_submission(verdicts):
    """`submit_recording` with the verdicts given, in order, recorded as the real one records them (the
    checks themselves are tested in tests/provoice/consent and end to end above)."""
    from provoice.catalog import ConsentAttempt, ConsentPrompt
    from provoice.catalog.models import new_id, utcnow
    from provoice.consent import Submission, new_prompt
    from provoice.settings import Settings

    def submit(catalog, settings, pvc_id, recording, original_name, account_id=None):
        verified = next(verdicts)
        prompt = new_prompt(catalog, Settings(), pvc_id, account_id)
        attempt = ConsentAttempt(
            id=new_id("attempt"),
            prompt_id=prompt.id,
            pvc_id=pvc_id,
            account_id=account_id,
            created_at=utcnow(),
            original_name=original_name,
            recording_key="k",
            sha256="0" * 64,
            size_bytes=1,
            verified=verified,
            reason=None if verified else "wrong words",
        )
        with catalog.session() as s:
            s.add(attempt)
            if verified:
                row = s.get(ConsentPrompt, prompt.id)
                row.status, row.verified_attempt_id, row.verified_at = "verified", attempt.id, attempt.created_at
        return Submission(attempt, 4)

    return submit


def test_every_pvc_status_has_a_cartesia_fine_tune_status():
    from interfaces.api.compat.cartesia.fine_tunes import FINE_TUNE_STATUS, CartesiaFineTune
    from provoice.pvc.status import PvcStatus

    assert set(FINE_TUNE_STATUS) == set(PvcStatus)
    assert set(FINE_TUNE_STATUS.values()) <= set(CartesiaFineTune.model_fields["status"].annotation.__args__)
