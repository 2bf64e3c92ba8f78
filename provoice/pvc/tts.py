"""Text-to-speech with a PVC voice: a voice is only activated with the model it belongs to, and
its use is metered at 1.5 credits a character: held before synthesis, charged after it."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal

from provoice.catalog import Catalog, Voice
from provoice.credits import charge_hold, place_hold, release_hold, tts_cost
from provoice.errors import is_infrastructure_failure
from provoice.pvc.service import get_voice
from provoice.tts import ModelMismatch


def voice_for_model(catalog: Catalog, account_id: str, voice_id: str, model_id: str) -> Voice:
    """The caller's voice, refused (naming the right model) when `model_id` is not its model."""
    voice = get_voice(catalog, voice_id, account_id)
    if model_id != voice.model_id:
        raise ModelMismatch(
            f"voice {voice_id} belongs to model {voice.model_id}; use --model-id "
            f"{voice.model_id} (it cannot be used with {model_id})"
        )
    return voice


class Meter:
    """The credits of one TTS request: held before synthesis (refused with the figures when the
    available balance does not cover the text), charged for what was delivered, the rest released."""

    def __init__(self, catalog: Catalog, voice: Voice, text: str, request_id: str | None = None):
        self.catalog, self.voice = catalog, voice
        self.cost = tts_cost(text)
        self.request_id = request_id or uuid.uuid4().hex
        self.hold_key = f"tts-hold:{self.request_id}"
        self.charged: Decimal | None = None
        try:
            place_hold(catalog, voice.account_id, self.cost, "tts", voice.id, self.hold_key, purpose="this text")
        except Exception as exc:
            if request_id is None and is_infrastructure_failure(exc):
                # The connection may have died after the hold was committed, before the answer came
                # back: give the hold (if there is one) back once the catalog answers again. A hold
                # keyed by the client's Idempotency-Key is left to that key's retry, which reuses it.
                settle_hold(self.release, self.hold_key)
            raise

    def charge(self, part: tuple[int, int] | None = None) -> Decimal:
        """Charge the text's cost, or the exact share `part` = (characters delivered, characters in
        all) of it, rounded down to milli-credits."""
        share = self.cost
        if part is not None:
            done, total = part
            share = self.cost * min(max(done, 0), total) / total if total > 0 else Decimal(0)
        amount = share.quantize(Decimal("0.001"), ROUND_DOWN)
        if amount <= 0:
            release_hold(self.catalog, self.hold_key)
            self.charged = Decimal(0)
        else:
            charge_hold(self.catalog, self.hold_key, f"tts:{self.request_id}", amount)
            self.charged = amount
        return self.charged

    def release(self) -> None:
        release_hold(self.catalog, self.hold_key)


def meter(catalog: Catalog, voice: Voice, text: str, request_id: str | None = None) -> Meter:
    """Hold the text's cost now; the caller charges (or releases) it once the audio is made."""
    return Meter(catalog, voice, text, request_id)


log = logging.getLogger(__name__)

#: How long settling a hold (the charge for delivered audio, or its release) is retried while the
#: catalog is unreachable.
SETTLE_RETRY_S = 300.0


def settle_hold(settle: Callable[[], object], hold_key: str) -> None:
    """Charge or release a hold now; if the database is down, keep trying (both are idempotent, keyed
    by the hold) on a thread until it is back, so no hold is left over from an outage."""
    try:
        settle()
        return
    except Exception as exc:
        if not is_infrastructure_failure(exc):
            raise

    def retry() -> None:
        deadline, wait = time.monotonic() + SETTLE_RETRY_S, 0.5
        while True:
            time.sleep(wait)
            try:
                settle()
                return
            except Exception as exc:
                if time.monotonic() > deadline or not is_infrastructure_failure(exc):
                    log.error("could not settle hold %s (it stays held): %s", hold_key, exc)
                    return
                wait = min(wait * 2, 5.0)

    threading.Thread(target=retry, name=f"settle-{hold_key}", daemon=True).start()
