"""A served ProVoice with a fine-tuned voice of alice's on a real uvicorn socket, for the official
clients of the hosted services to talk to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from provoice.catalog import Voice
from provoice.credits import grant
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.voice_models import MODELS_PREFIX
from tests.conftest import served_model
from tests.interfaces.api.conftest import live, make_voice


@dataclass
class Served:
    url: str
    key: str
    voice: Voice
    account_id: str


@pytest.fixture(scope="session")
def exported_models(tmp_path_factory) -> Callable[[str, bool], dict[str, bytes]]:
    """`(model id, quiet) -> its files`: a tiny fine-tuned model with its ONNX graph, exported once per
    session (exporting takes seconds, copying the files into a test's storage none)."""
    cache: dict[tuple[str, bool], dict[str, bytes]] = {}

    def files(model_id: str, quiet: bool) -> dict[str, bytes]:
        if (model_id, quiet) not in cache:
            with pytest.MonkeyPatch.context() as env:
                env.setenv("PROVOICE_HOME", str(tmp_path_factory.mktemp("exported-model")))
                settings = Settings()
                served_model(settings, model_id, quiet=quiet)
                storage = Storage.from_settings(settings)
                cache[model_id, quiet] = {k: storage.read_bytes(k) for k in storage.list(f"{MODELS_PREFIX}/{model_id}")}
        return cache[model_id, quiet]

    return files


@contextmanager
def serving(app, alice, settings, files: dict[str, bytes], model_id: str) -> Iterator[Served]:
    """The app live with `files` in its storage, a voice of alice's on `model_id` and 10,000 credits."""
    storage = Storage.from_settings(settings)
    for key, data in files.items():
        storage.write_bytes(key, data)
    grant(app.state.catalog, alice.account_id, 10_000)
    voice = make_voice(app.state.catalog, alice.account_id, model_id)
    with live(app) as url:
        yield Served(url, alice.headers["X-API-Key"], voice, alice.account_id)


@pytest.fixture
def served(app, alice, settings, exported_models):
    """`url` of the live app, alice's API `key`, her `voice` on an ONNX-served fine-tuned model (with
    noise, so `speed` changes its durations), and 10,000 credits."""
    model_id = "tiny-base/served"
    with serving(app, alice, settings, exported_models(model_id, False), model_id) as served:
        yield served


def decode(data: bytes, raw: str | None = None, rate: int | None = None) -> tuple[int, float, str]:
    """(sample rate, seconds, codec) of encoded audio, read back by FFmpeg (PyAV); `raw` names the
    sample format of headerless audio (`s16le`, `f32le`, `mulaw`, `alaw`) and `rate` its rate."""
    import io

    import av

    options = {"sample_rate": str(rate), "ac": "1"} if raw else {}
    with av.open(io.BytesIO(data), format=raw, options=options) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return stream.rate, samples / stream.rate, stream.codec_context.name
