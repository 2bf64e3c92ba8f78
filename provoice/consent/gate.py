"""The consent gate: no training without the speaker's verified consent (PROVOICE_REQUIRE_CONSENT),
and a consent holds only while the dataset's dominant voice is the voice that gave it."""

from __future__ import annotations

import numpy as np

from provoice.catalog import Catalog, Pvc
from provoice.consent.records import current_consent, invalidate
from provoice.errors import ProVoiceError
from provoice.settings import Settings
from provoice.storage import Storage


class ConsentRequired(ProVoiceError):
    """Training refused: the PVC's speaker has not (or no longer) verifiably consented."""


def how_to_consent(pvc_id: str) -> str:
    return (
        f"get a prompt with `provoice pvc consent-prompt {pvc_id}` (POST /fine-tunes/{pvc_id}/consent/prompt), "
        f"have the speaker read it aloud, and submit the recording with `provoice pvc consent {pvc_id} "
        f"RECORDING` (POST /fine-tunes/{pvc_id}/consent)"
    )


def consent_refusal(catalog: Catalog, settings: Settings, pvc: Pvc) -> str | None:
    """Why the PVC may not be trained for want of consent, or None."""
    if not settings.require_consent:
        return None
    consent = current_consent(catalog, pvc.id)
    if consent is None:
        return f"PVC {pvc.id} cannot be trained before its speaker's consent is verified: {how_to_consent(pvc.id)}"
    if not consent.valid:
        return (
            f"the consent of PVC {pvc.id} is no longer valid ({consent.prompt.invalid_reason}): "
            f"{how_to_consent(pvc.id)}"
        )
    return None


def require_consent(catalog: Catalog, settings: Settings, pvc: Pvc) -> None:
    if (why := consent_refusal(catalog, settings, pvc)) is not None:
        raise ConsentRequired(why)


def check_dataset_voice(catalog: Catalog, settings: Settings, pvc: Pvc, version: str, report_uri: str) -> None:
    """After a preparation: a dataset version other than the consent's must still have the
    consent's voice as its dominant voice, or the consent is invalidated, saying why."""
    require_consent(catalog, settings, pvc)
    consent = current_consent(catalog, pvc.id)
    if consent is None or consent.attempt.dataset_version == version or not consent.attempt.voice:
        return
    storage = Storage.from_settings(settings)
    voice = storage.read_json(storage.key_of(report_uri)).get("speaker_voice")
    if not voice:
        return
    similarity = float(np.asarray(consent.attempt.voice) @ np.asarray(voice))
    if similarity >= settings.consent_min_speaker_similarity:
        return
    reason = (
        f"the dataset's version {version} has another main voice: files added since the consent moved it "
        f"away from the consent recording's voice (similarity {similarity:.2f}, below "
        f"{settings.consent_min_speaker_similarity:g})"
    )
    invalidate(catalog, consent.prompt.id, reason)
    raise ConsentRequired(f"the consent of PVC {pvc.id} is no longer valid ({reason}): {how_to_consent(pvc.id)}")
