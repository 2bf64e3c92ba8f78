"""An app on a fresh ProVoice home, and two accounts with a key each to tell their data apart."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi.testclient import TestClient

from interfaces.api.app import create_app
from interfaces.api.runner import Runner
from provoice.accounts import create_account, create_api_key
from provoice.catalog import Voice
from provoice.pvc.service import create_pvc
from provoice.settings import Settings
from provoice.tts.onnx_voice import OnnxVoice
from tests.conftest import _free_port


@dataclass
class Caller:
    account_id: str
    headers: dict[str, str]


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def _caller(app, name: str) -> Caller:
    catalog = app.state.catalog
    account = create_account(catalog, name)
    _, secret = create_api_key(catalog, account.id)
    return Caller(account.id, {"X-API-Key": secret})


@pytest.fixture
def alice(app) -> Caller:
    return _caller(app, "alice")


@pytest.fixture
def bob(app) -> Caller:
    return _caller(app, "bob")


@pytest.fixture
def base(settings) -> str:
    """A tiny registered base model, the latest one."""
    from provoice.voice_models.registry import BaseModelRegistry

    return BaseModelRegistry(settings).create_random("tiny-base", tiny=True).id


@pytest.fixture
def launches(app) -> list[dict]:
    """Served mode with a recording Prefect: deployment starts are kept instead of run."""
    calls: list[dict] = []

    def start(name, parameters):
        calls.append({"deployment": name, **parameters})
        return f"run-{len(calls)}"

    app.state.runner = Runner(start)
    return calls


@pytest.fixture
def slow_renders(monkeypatch) -> list[float]:
    """Each sentence the served graph renders, slowed to 0.3 s so chunks leave one by one; the
    times each render started."""
    calls: list[float] = []
    real = OnnxVoice.render

    def slow(self, *args, **kwargs):
        calls.append(time.monotonic())
        time.sleep(0.3)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(OnnxVoice, "render", slow)
    return calls


def new_fine_tune(client, caller, **fields) -> dict:
    """A draft PVC on a new empty dataset of `caller`."""
    ds = client.post("/datasets", json={"name": "d"}, headers=caller.headers).json()["id"]
    r = client.post("/fine-tunes", json={"dataset_id": ds, "name": "Narrator", **fields}, headers=caller.headers)
    assert r.status_code == 201, r.text
    return r.json()


def make_voice(catalog, account_id: str, model_id: str) -> Voice:
    ds = catalog.create_dataset("d", account_id=account_id)
    pvc = create_pvc(catalog, account_id, ds.id, "Narrator", model_id, settings=Settings())
    voice = Voice(
        account_id=account_id,
        pvc_id=pvc.id,
        model_id=model_id,
        name="Narrator 1",
        source_file_id="f_source",
        clip_uri="file:///clip.wav",
        clip_start=0.0,
        clip_end=2.0,
        embedding=[0.01] * 256,
    )
    with catalog.session() as s:
        s.add(voice)
    return voice


class live:
    """The app on a real uvicorn socket on 127.0.0.1, for what TestClient cannot send."""

    def __init__(self, app):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.server.config.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)
