"""Consent end to end with generated speech, the real Whisper and the real speaker encoder: what
verifies, what is refused and why, the training gate on every path, and invalidation."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from interfaces.cli import app
from provoice import synthetic
from provoice.accounts import default_account
from provoice.catalog import Catalog, ConsentPrompt
from provoice.catalog.models import utcnow
from provoice.consent import (
    ConsentRefused,
    ConsentRequired,
    check_dataset_voice,
    consent_refusal,
    new_prompt,
    submit_recording,
)
from provoice.credits import PVC_TRAINING_CREDITS, balance, grant
from provoice.pvc.budget import Budget
from provoice.pvc.queries import pvc_view
from provoice.pvc.service import create_pvc, get_pvc
from provoice.pvc.transitions import claim, fail_attempt
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.voice_models.registry import BaseModelRegistry
from tests.conftest import QUICK_SCORING, give_consent, narrator_dataset, read_aloud

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(scope="module")
def home(prefect_harness, tmp_path_factory):
    """One prepared narrator dataset (five espeak chapters, 40 s) for every test of the module."""
    from flows.prepare import prepare_dataset

    root = tmp_path_factory.mktemp("consent")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROVOICE_HOME", str(root / "home"))
        mp.setenv("PROVOICE_MIN_SPEECH_SECONDS", "30")
        mp.setenv("PROVOICE_REQUIRE_CONSENT", "true")
        for key, value in QUICK_SCORING.items():
            mp.setenv(key, value)
        settings = Settings()
        catalog = Catalog(settings)
        ds = narrator_dataset(catalog, root / "up", 5)
        prepare_dataset(ds.id)
        BaseModelRegistry(settings).create_random("tiny-base", tiny=True)
        yield settings, catalog, ds, root


@pytest.fixture
def env(home, monkeypatch, steady_phrase):
    settings, catalog, ds, root = home
    for key, value in (
        ("PROVOICE_HOME", str(settings.home)),
        ("PROVOICE_MIN_SPEECH_SECONDS", "30"),
        ("PROVOICE_REQUIRE_CONSENT", "true"),
        *QUICK_SCORING.items(),
    ):
        monkeypatch.setenv(key, value)
    return settings, catalog, ds, root


def _pvc(catalog, ds, name="Narrator", speaker="Dana Reyes"):
    return create_pvc(
        catalog, default_account(catalog).id, ds.id, name, "tiny-base", speaker_name=speaker, settings=Settings()
    )


def _dataset_state(catalog, ds):
    return [(f.id, f.sha256, f.status) for f in catalog.files(ds.id)], catalog.latest_run(ds.id).version


def test_the_speaker_reading_the_prompt_verifies_and_the_record_is_kept(env, tmp_path):
    settings, catalog, ds, _ = env
    before = _dataset_state(catalog, ds)
    pvc = _pvc(catalog, ds)
    prompt = new_prompt(catalog, settings, pvc.id)
    assert "I am Dana Reyes" in prompt.prompt and "the account local" in prompt.prompt
    assert len(prompt.phrase.split()) == 4 and prompt.prompt.endswith(", ".join(prompt.phrase.split()) + ".")
    wav = read_aloud(prompt.prompt, tmp_path / "me reading.wav")
    sub = submit_recording(catalog, settings, pvc.id, wav, wav.name)
    a = sub.attempt
    assert a.verified and a.reason is None, a.reason
    assert a.prompt_wer <= 0.35 and a.speaker_similarity >= 0.75 and sub.attempts_left == 4
    assert all(w in a.transcript.lower() for w in prompt.phrase.split())
    assert Storage.from_settings(settings).read_bytes(a.recording_key) == wav.read_bytes()
    assert _dataset_state(catalog, ds) == before
    assert consent_refusal(catalog, settings, pvc) is None

    view = pvc_view(catalog, get_pvc(catalog, pvc.id)).consent
    assert view.status == "verified" and view.recording_sha256 == a.sha256 and view.account_id == "acct_local"
    assert view.verified_prompt == prompt.prompt and view.transcript == a.transcript
    shown = json.loads(runner.invoke(app, ["pvc", "show", pvc.id, "--json"]).stdout)
    assert shown["consent"]["status"] == "verified" and shown["speaker_name"] == "Dana Reyes"
    assert "uri" not in json.dumps(shown["consent"])
    text = runner.invoke(app, ["pvc", "show", pvc.id]).stdout
    assert "consent: verified" in text and "speaker similarity" in text


def test_refusals_say_why_and_never_touch_the_dataset(env, tmp_path):
    settings, catalog, ds, root = env
    before = _dataset_state(catalog, ds)
    pvc = _pvc(catalog, ds, speaker="Sam")
    prompt = new_prompt(catalog, settings, pvc.id)
    chapter = root / "up" / "chapter1.wav"
    cut = tmp_path / "cut.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "1.5", "-t", "5", "-i", str(chapter), str(cut)], check=True)
    bad = synthetic.bad_files(tmp_path / "bad", chapter)
    cases = [
        (read_aloud(" ".join(synthetic.SENTENCES[10:12]), tmp_path / "other text.wav"), "wrong words"),
        (read_aloud(prompt.prompt, tmp_path / "other voice.wav", synthetic.OTHER_VOICE, 70), "another speaker"),
        (chapter, "a copy: this recording is the dataset file 'chapter1.wav' itself"),
        (cut, "a copy: this recording is cut from the dataset file 'chapter1.wav'"),
        (bad["silence"], "silent"),
    ]
    left = []
    for path, reason in cases:
        sub = submit_recording(catalog, settings, pvc.id, path, path.name)
        assert not sub.attempt.verified and sub.attempt.reason.startswith(reason), (path.name, sub.attempt.reason)
        left.append(sub.attempts_left)
    assert left == [4, 3, 2, 1, 0]
    with pytest.raises(ConsentRefused, match="all 5 attempts of this consent prompt are used"):
        submit_recording(catalog, settings, pvc.id, bad["text_as_wav"], "notes.wav")

    r = runner.invoke(app, ["pvc", "consent", pvc.id, str(bad["text_as_wav"])])
    assert r.exit_code == 1 and "attempts of this consent prompt are used" in r.stderr
    r = runner.invoke(app, ["pvc", "consent-prompt", pvc.id, "--json"])
    fresh = json.loads(r.stdout)
    assert set(fresh) == {"pvc_id", "prompt", "expires_at", "attempts_left"} and fresh["attempts_left"] == 5
    assert fresh["prompt"] == prompt.prompt and fresh["expires_at"] != prompt.expires_at.isoformat()
    r = runner.invoke(app, ["pvc", "consent", pvc.id, str(bad["text_as_wav"]), "--json"])
    out = json.loads(r.stdout)
    assert r.exit_code == 1 and not out["verified"] and out["reason"].startswith("not a usable recording")
    assert out["attempts_left"] == 4 and out["transcript"] is None

    with catalog.session() as s:
        s.execute(
            update(ConsentPrompt)
            .where(ConsentPrompt.pvc_id == pvc.id, ConsentPrompt.status == "open")
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    with pytest.raises(ConsentRefused, match="expired"):
        submit_recording(catalog, settings, pvc.id, tmp_path / "other text.wav", "x.wav")
    assert _dataset_state(catalog, ds) == before
    view = pvc_view(catalog, get_pvc(catalog, pvc.id)).consent
    assert view.status == "prompted" and view.recordings == 6 and view.reason.startswith("not a usable recording")
    with pytest.raises(ConsentRequired, match="consent-prompt"):
        claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=1))


def test_training_is_gated_on_every_path_and_consent_outlives_retry_and_retrain(env, tmp_path, monkeypatch):
    from flows.pvc import pro_voice_clone
    from flows.retrain import retrain_on_new_base_model

    settings, catalog, ds, _ = env
    # The trainings are checked for their outcome, not their scores: one sentence per validation and evaluation.
    monkeypatch.setenv("PROVOICE_TRAIN_VALIDATION_SENTENCES", "1")
    monkeypatch.setenv("PROVOICE_EVAL_SENTENCES", "1")
    account = default_account(catalog).id
    grant(catalog, account, 2 * PVC_TRAINING_CREDITS, idempotency_key=f"consent-test:{tmp_path.name}")
    pvc = _pvc(catalog, ds)
    with pytest.raises(ConsentRequired, match=f"provoice pvc consent-prompt {pvc.id}"):
        claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=1))
    r = runner.invoke(app, ["pvc", "train", pvc.id, "--max-steps", "1"])
    assert r.exit_code == 1 and "before its speaker's consent is verified" in r.stderr
    with pytest.raises(ConsentRequired):
        pro_voice_clone(pvc_id=pvc.id, max_steps=1)
    with pytest.raises(ConsentRequired, match="created PVC .* as a draft"):
        pro_voice_clone(dataset_id=ds.id, name="From the form", max_steps=1)
    assert get_pvc(catalog, pvc.id).status == "draft" and get_pvc(catalog, pvc.id).attempts == 0

    give_consent(catalog, settings, pvc.id, tmp_path)
    claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=2))
    fail_attempt(catalog, pvc.id, "the worker stopped", "worker-lost")
    out = pro_voice_clone(pvc_id=pvc.id, retry=True)
    assert out.status == "completed" and get_pvc(catalog, pvc.id).attempts == 2
    assert balance(catalog, account) == PVC_TRAINING_CREDITS

    BaseModelRegistry(settings).create_random("tiny-base-2", tiny=True)
    from provoice.pvc.service import set_auto_retrain

    set_auto_retrain(catalog, pvc.id, True)
    result = retrain_on_new_base_model(base_model_id="tiny-base-2", pvc_id=pvc.id, max_steps=1)
    assert result["results"][0]["decision"] in ("promoted", "kept"), result
    assert pvc_view(catalog, get_pvc(catalog, pvc.id)).consent.status == "verified"


def test_a_retrain_without_consent_is_refused(env):
    from flows.retrain import retrain_on_new_base_model
    from provoice.pvc.status import PvcStatus
    from tests.pvc_states import set_status

    settings, catalog, ds, _ = env
    BaseModelRegistry(settings).create_random("tiny-base-3", tiny=True)
    pvc = create_pvc(
        catalog, default_account(catalog).id, ds.id, "Imported", "tiny-base", auto_retrain=True, settings=settings
    )
    set_status(
        catalog,
        pvc.id,
        PvcStatus.COMPLETED,
        model_id="tiny-base/imported",
        dataset_version=catalog.latest_run(ds.id).version,
    )
    result = retrain_on_new_base_model(base_model_id="tiny-base-3", pvc_id=pvc.id, max_steps=1)
    row = result["results"][0]
    assert row["decision"] == "failed" and "before its speaker's consent is verified" in row["reason"]


def _consent_then_add(env, tmp_path, count: int, voice: str, pitch: int | None):
    """A PVC consented on its own two-chapter dataset, then `count` chapters in `voice` added to it."""
    from flows.ingest import ingest_files
    from flows.prepare import prepare_dataset

    settings, catalog, _, _ = env
    ds = narrator_dataset(catalog, tmp_path / "own", 2)
    prepare_dataset(ds.id)
    pvc = _pvc(catalog, ds)
    give_consent(catalog, settings, pvc.id, tmp_path)
    added = tmp_path / "added"
    added.mkdir()
    for i in range(count):
        synthetic.speech_file(added / f"added{i}.wav", synthetic.corpus(8, start=3 * i + 1), voice=voice, pitch=pitch)
    ingest_files(ds.id, [str(added)])
    return ds, pvc


def test_files_that_move_the_dominant_voice_invalidate_the_consent(env, tmp_path):
    from flows.pvc import pro_voice_clone
    from provoice.credits import account_balance

    settings, catalog, _, _ = env
    account = default_account(catalog).id
    grant(catalog, account, PVC_TRAINING_CREDITS, idempotency_key=f"consent-test:{tmp_path.name}")
    _, pvc = _consent_then_add(env, tmp_path, 4, synthetic.OTHER_VOICE, 70)
    with pytest.raises(ConsentRequired, match="another main voice"):
        pro_voice_clone(pvc_id=pvc.id, max_steps=1)
    failed = get_pvc(catalog, pvc.id)
    assert failed.status == "failed" and "no longer valid" in failed.reason and "another main voice" in failed.reason
    view = pvc_view(catalog, failed).consent
    assert view.status == "invalidated" and "another main voice" in view.reason
    assert account_balance(catalog, account).held == 0
    with pytest.raises(ConsentRequired, match="no longer valid"):
        claim(catalog, settings, pvc.id, retry=True, budget=Budget())


def test_the_same_voice_added_later_keeps_the_consent(env, tmp_path):
    from flows.prepare import prepare_dataset

    settings, catalog, _, _ = env
    ds, pvc = _consent_then_add(env, tmp_path, 1, synthetic.MAIN_VOICE, None)
    summary = prepare_dataset(ds.id)
    check_dataset_voice(catalog, settings, get_pvc(catalog, pvc.id), summary.version, summary.report_uri)
    assert consent_refusal(catalog, settings, get_pvc(catalog, pvc.id)) is None
