"""Consent: only the owner of a voice can clone it. A PVC is trained only after its speaker has
read a one-time prompt and the recording was verified (the words, the dataset's voice, not a
copy, usable audio); every recording is kept as the audit trail."""

from provoice.consent.gate import (
    ConsentRequired,
    check_dataset_voice,
    consent_refusal,
    how_to_consent,
    require_consent,
)
from provoice.consent.queries import consent_prompt_view, consent_result_view, consent_views
from provoice.consent.records import (
    Consent,
    ConsentRefused,
    attempts_of,
    current_consent,
    given,
    open_prompt,
    prompts_of,
)
from provoice.consent.service import Submission, new_prompt, submit_recording

__all__ = [
    "Consent",
    "ConsentRefused",
    "ConsentRequired",
    "Submission",
    "attempts_of",
    "check_dataset_voice",
    "consent_prompt_view",
    "consent_refusal",
    "consent_result_view",
    "consent_views",
    "current_consent",
    "given",
    "how_to_consent",
    "new_prompt",
    "open_prompt",
    "prompts_of",
    "require_consent",
    "submit_recording",
]
