"""An app on a fresh ProVoice home, and two accounts with a key each to tell their data apart."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from provoice.accounts import create_account, create_api_key
from provoice.catalog import Voice
from provoice.pvc.service import create_pvc
from interfaces.api.app import create_app


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


def new_fine_tune(client, caller, **fields) -> dict:
    """A draft PVC on a new empty dataset of `caller`."""
    ds = client.post("/datasets", json={"name": "d"}, headers=caller.headers).json()["id"]
    r = client.post("/fine-tunes", json={"dataset_id": ds, "name": "Narrator", **fields}, headers=caller.headers)
    assert r.status_code == 201, r.text
    return r.json()


def make_voice(catalog, account_id: str, model_id: str) -> Voice:
    ds = catalog.create_dataset("d", account_id=account_id)
    pvc = create_pvc(catalog, account_id, ds.id, "Narrator", model_id)
    voice = Voice(account_id=account_id, pvc_id=pvc.id, model_id=model_id, name="Narrator 1",
                  source_file_id="f_source", clip_uri="file:///clip.wav", clip_start=0.0, clip_end=2.0,
                  embedding=[0.01] * 256)
    with catalog.session() as s:
        s.add(voice)
    return voice
