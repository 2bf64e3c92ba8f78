"""Asking for consent and checking a recording of it.

A prompt names the speaker and the account and ends with one-time words. A submitted recording
is stored as it came (the audit trail keeps it; the dataset never sees it), counted against the
prompt's attempts, and examined against the dataset's latest preparation: its dominant voice and
its files (a copy or a cut of one is refused).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from provoice.accounts import get_account
from provoice.catalog import Catalog, ConsentAttempt, ConsentPrompt
from provoice.catalog.models import new_id, utcnow
from provoice.consent.checks import CHECKS_NEED, DatasetFileRef, Verdict, examine, sha256_of
from provoice.consent.phrases import one_time_phrase, statement
from provoice.consent.records import ConsentRefused, create_prompt, record_attempt, take_attempt, usable_prompt
from provoice.dataset.steps import converted_16k_key
from provoice.extras import require_train
from provoice.pvc.service import get_pvc
from provoice.settings import ACCEPTED_FORMATS, Settings
from provoice.storage import Storage


@dataclass(frozen=True)
class Submission:
    """What one recording came to, with the prompt's attempts left after it."""

    attempt: ConsentAttempt
    attempts_left: int


def new_prompt(catalog: Catalog, settings: Settings, pvc_id: str, account_id: str | None = None) -> ConsentPrompt:
    """A fresh prompt for the PVC's speaker, replacing any open one."""
    pvc = get_pvc(catalog, pvc_id, account_id)
    phrase = one_time_phrase(settings.consent_phrase_words)
    text = statement(pvc.speaker_name or pvc.name, get_account(catalog, pvc.account_id).name, phrase)
    return create_prompt(
        catalog, pvc.id, pvc.account_id, text, phrase, settings.consent_prompt_hours, settings.consent_max_attempts
    )


@dataclass(frozen=True)
class DatasetVoice:
    version: str
    voice: np.ndarray


def dataset_voice(catalog: Catalog, storage: Storage, dataset_id: str) -> DatasetVoice:
    """The dominant voice of the dataset's latest preparation, or ConsentRefused saying how to get one."""
    run = catalog.latest_run(dataset_id)
    report = storage.read_json(storage.key_of(run.report_uri)) if run is not None and run.report_uri else {}
    if run is None or not report.get("speaker_voice"):
        raise ConsentRefused(
            f"the dataset {dataset_id} has no prepared voice to compare a consent recording with: prepare it "
            f"first (`provoice dataset prepare {dataset_id}`, POST /datasets/{dataset_id}/prepare)"
        )
    return DatasetVoice(run.version, np.asarray(report["speaker_voice"], dtype=np.float32))


def submit_recording(
    catalog: Catalog,
    settings: Settings,
    pvc_id: str,
    recording: Path,
    original_name: str,
    account_id: str | None = None,
) -> Submission:
    """Store, count and examine one recording against the PVC's open prompt. A refused recording is
    an answer (verified False with its reason), not an error; the dataset is never touched."""
    pvc = get_pvc(catalog, pvc_id, account_id)
    require_train("verifying a consent recording", *CHECKS_NEED)  # before an attempt is spent
    storage = Storage.from_settings(settings)
    voice = dataset_voice(catalog, storage, pvc.dataset_id)
    prompt = usable_prompt(catalog, pvc.id)
    left = take_attempt(catalog, prompt)
    attempt_id = new_id("attempt")
    suffix = Path(original_name).suffix.lower().lstrip(".")
    key = f"consents/{pvc.id}/{attempt_id}/recording.{suffix if suffix in ACCEPTED_FORMATS else 'bin'}"
    storage.put_file(recording, key)
    sha = sha256_of(recording)
    with contextlib.ExitStack() as stack:
        verdict = examine(
            recording,
            sha,
            prompt.prompt,
            prompt.phrase.split(),
            voice.voice,
            _dataset_files(catalog, storage, settings, pvc.dataset_id, stack),
            settings,
        )
    attempt = ConsentAttempt(
        id=attempt_id,
        prompt_id=prompt.id,
        pvc_id=pvc.id,
        account_id=pvc.account_id,
        created_at=utcnow(),
        original_name=original_name[:255],
        recording_key=key,
        sha256=sha,
        size_bytes=recording.stat().st_size,
        dataset_version=voice.version,
        **_fields(verdict),
    )
    return Submission(record_attempt(catalog, attempt), left)


def _fields(v: Verdict) -> dict:
    return {
        "verified": v.verified,
        "reason": v.reason,
        "transcript": v.transcript,
        "prompt_wer": v.prompt_wer,
        "speaker_similarity": v.speaker_similarity,
        "speech_seconds": v.speech_seconds,
        "voice": v.voice,
    }


def _dataset_files(
    catalog: Catalog, storage: Storage, settings: Settings, dataset_id: str, stack: contextlib.ExitStack
) -> list[DatasetFileRef]:
    """Every file of the dataset by hash, with its 16 kHz view where preparation made one."""
    refs = []
    for f in catalog.files(dataset_id):
        if not f.sha256:
            continue
        key = converted_16k_key(settings, f.sha256)
        wav16 = stack.enter_context(storage.local_path(key)) if storage.exists(key) else None
        refs.append(DatasetFileRef(f.original_name, f.sha256, wav16))
    return refs
