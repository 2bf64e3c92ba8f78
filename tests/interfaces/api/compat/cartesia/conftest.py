"""Cartesia's official client (cartesia 4.2.0), unmodified, against a served ProVoice under `/cartesia`:
the served app on a noise-free model, the client, and what the tests of speech, the WebSocket,
voices, datasets, fine-tunes, errors and the money share."""

from __future__ import annotations

import io
import time
from decimal import ROUND_DOWN, Decimal

import cartesia
import numpy as np
import pytest

from provoice.audio.wavio import write_wav
from provoice.credits import account_balance, balance, tts_cost
from provoice.voice_models import load_synthesizer
from tests.interfaces.api.compat.conftest import serving

TEXT = "The first sentence is here. A second one follows it. And the third one ends the text."
MODEL_ID, MODEL_RATE = "tiny-base/quiet", 22050
S16_NATIVE = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": MODEL_RATE}
EIGHT = " ".join(
    f"Sentence number {n} is spoken on its own."
    for n in ("one", "two", "three", "four", "five", "six", "seven", "eight")
)


@pytest.fixture
def served(app, alice, settings, exported_models):
    """As the compat conftest's `served`, on a noise-free model: the same request is the same speech,
    sample by sample, so formats compare with each other."""
    with serving(app, alice, settings, exported_models(MODEL_ID, True), MODEL_ID) as served:
        yield served


@pytest.fixture
def client(served) -> cartesia.Cartesia:
    return cartesia.Cartesia(
        api_key=served.key,
        base_url=f"{served.url}/cartesia",
        websocket_base_url=served.url.replace("http://", "ws://") + "/cartesia",
        max_retries=0,
    )


def partial_charges(settings, text: str) -> set[Decimal]:
    """What a stream of `text` cut off after 1, 2, ... sentences (not all) is charged."""
    units = load_synthesizer(settings, MODEL_ID).meta.front_end().sentence_units(text)
    lengths = [len(sentence) for sentence, _ in units]
    return {
        (tts_cost(text) * sum(lengths[:k]) / sum(lengths)).quantize(Decimal("0.001"), ROUND_DOWN)
        for k in range(1, len(lengths))
    }


def settled(app, account_id: str, timeout: float = 20) -> Decimal:
    """The balance once no credits are held (a stream's charge lands when it ends)."""
    deadline = time.monotonic() + timeout
    while account_balance(app.state.catalog, account_id).held > 0:
        assert time.monotonic() < deadline, "credits still held"
        time.sleep(0.05)
    return balance(app.state.catalog, account_id)


def wav(seconds: float = 1.0) -> bytes:
    t = np.arange(int(seconds * 22050)) / 22050
    out = io.BytesIO()
    write_wav(out, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22050)
    return out.getvalue()
