"""The serving install has no torch: `provoice api`, started as the CPU image starts it but in a Python
that cannot import torch or any other package only the `train` extra brings, lists voices and speaks
on onnxruntime; a train-only feature answers 501 naming the extra."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import wave

import httpx
import numpy as np
import pytest

from provoice.credits import grant
from provoice.extras import TRAIN_ONLY
from tests.conftest import _free_port, served_model
from tests.interfaces.api.conftest import make_voice

#: Runs `provoice api` where every train-only package is missing, as in a venv without the extra.
WITHOUT_TRAIN = """
import sys
from importlib.abc import MetaPathFinder

blocked = frozenset(sys.argv[1].split(","))
assert not blocked & {name.split(".")[0] for name in sys.modules}, "imported before the blocker"


class TrainOnly(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, TrainOnly())
from interfaces.cli import main

sys.argv = ["provoice", "api", "--host", "127.0.0.1", "--port", sys.argv[2]]
main()
"""


@pytest.fixture
def api_without_train():
    """The URL of `provoice api` on this test's home, in a Python without the train-only packages."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", WITHOUT_TRAIN, ",".join(sorted(TRAIN_ONLY)), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert server.poll() is None, f"provoice api exited:\n{server.stdout.read()}"
            assert time.monotonic() < deadline, "provoice api did not start in 60 s"
            try:
                httpx.get(f"{url}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.integration
def test_the_api_serves_speech_with_no_train_only_package(app, alice, settings, request):
    model_id = served_model(settings, "tiny-base/served")
    grant(app.state.catalog, alice.account_id, 10_000)
    voice = make_voice(app.state.catalog, alice.account_id, model_id)
    url = request.getfixturevalue("api_without_train")

    with httpx.Client(base_url=url, headers=alice.headers, timeout=120) as http:
        assert [v["id"] for v in http.get("/voices").raise_for_status().json()] == [voice.id]
        r = http.post("/tts", json={"model_id": model_id, "voice_id": voice.id, "text": "Hello from the server."})
        assert r.status_code == 200, r.text
        with wave.open(io.BytesIO(r.content)) as wav:
            audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
            seconds = wav.getnframes() / wav.getframerate()
        assert seconds > 0.3 and np.abs(audio).max() > 100, "no speech in the audio"

        piper = http.get(f"/voices/{voice.id}/piper")  # folding a voice into Piper's weights is torch's
        assert piper.status_code == 501, piper.text
        assert "provoice[train]" in piper.json()["detail"]
