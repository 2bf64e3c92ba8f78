"""Text-to-speech with a PVC voice: a voice is only activated with the model it belongs to, and
its use is metered at 1.5 credits a character."""

from __future__ import annotations

import uuid

from provoice.catalog import Catalog, Voice
from provoice.credits import debit, require_balance, tts_cost
from provoice.pvc.service import get_voice
from provoice.tts import ModelMismatch


def voice_for_model(catalog: Catalog, account_id: str, voice_id: str, model_id: str) -> Voice:
    """The caller's voice, refused (naming the right model) when `model_id` is not its model."""
    voice = get_voice(catalog, voice_id, account_id)
    if model_id != voice.model_id:
        raise ModelMismatch(f"voice {voice_id} belongs to model {voice.model_id}; use --model-id "
                            f"{voice.model_id} (it cannot be used with {model_id})")
    return voice


def meter(catalog: Catalog, voice: Voice, text: str, request_id: str | None = None) -> None:
    """Debit the characters spoken; `request_id` makes a retried request charge once."""
    cost = tts_cost(text)
    require_balance(catalog, voice.account_id, cost)
    debit(catalog, voice.account_id, cost, kind="tts", reference=voice.id,
          idempotency_key=f"tts:{request_id or uuid.uuid4().hex}")
