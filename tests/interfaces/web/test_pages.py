"""Playground pages without a browser: where sign-in may send a browser, the sign-in form's own
token, a revoked key, and the HTML refusals."""

from __future__ import annotations

import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from interfaces.api.app import create_app
from provoice.accounts import create_account, create_api_key, revoke_api_key


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as c:
        yield c


def _key(client, name="Dana"):
    catalog = client.app.state.catalog
    account = create_account(catalog, name)
    return create_api_key(catalog, account.id)


def _sign_in(client, key, next_="/"):
    login = re.search(r'name="login" value="([^"]+)"', client.get("/ui/sign-in").text).group(1)
    return client.post("/ui/sign-in", data={"api_key": key, "login": login, "next": next_}, follow_redirects=False)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_sends_the_browser_to_another_site(client, target):
    _, key = _key(client)
    r = _sign_in(client, key, target)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_the_sign_in_form_needs_the_token_of_its_own_page(client):
    _, key = _key(client)
    r = client.post("/ui/sign-in", data={"api_key": key, "login": "forged", "next": "/"}, follow_redirects=False)
    assert r.status_code == 403 and "provoice_session" not in r.headers.get("set-cookie", "")


def test_a_revoked_key_sends_the_browser_back_to_sign_in(client):
    key_id, key = _key(client)
    assert _sign_in(client, key, "/ui/credits").headers["location"] == "/ui/credits"
    assert client.get("/ui/credits").status_code == 200
    revoke_api_key(client.app.state.catalog, key_id)
    r = client.get("/ui/credits", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/sign-in?next=/ui/credits"
    r = client.get("/datasets")
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_refusals_are_pages_that_say_why(client):
    _, key = _key(client)
    _sign_in(client, key)
    r = client.get("/ui/pvcs/pvc_missing")
    assert r.status_code == 404 and "no PVC with id" in r.text and r.headers["content-type"].startswith("text/html")
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text).group(1)
    r = client.post("/ui/pvcs", data={"csrf": token, "name": "x", "source": "upload"})
    assert r.status_code == 422 and "choose a dataset" in r.text
    ds = client.post("/ui/datasets", data={"csrf": token, "name": "d"}, follow_redirects=False).headers["location"]
    r = client.get(ds.replace("/ui/datasets/", "/ui/datasets/") + "/versions/v1/segments/0.wav")
    assert r.status_code == 404


def test_the_dataset_and_pvc_pages_say_how_far_the_voice_is_and_what_to_expect(prefect_harness, client, tmp_path):
    from flows.prepare import prepare_dataset
    from provoice.pvc.service import create_pvc
    from provoice.storage import Storage
    from provoice.voice_models import BaseModelRegistry, recipe_for
    from provoice.voice_models.distance import base_voice_key, expected_similarity
    from tests.conftest import narrator_dataset

    catalog, settings = client.app.state.catalog, client.app.state.settings
    account = create_account(catalog, "Dana")
    _sign_in(client, create_api_key(catalog, account.id)[1])
    base = BaseModelRegistry(settings, catalog).create_random("tiny-base", tiny=True).id
    ds = narrator_dataset(catalog, tmp_path / "up", 2, account_id=account.id)
    prepare_dataset(ds.id)
    storage = Storage.from_settings(settings)
    voice = storage.read_json(storage.key_of(catalog.latest_run(ds.id).report_uri))["speaker_voice"]
    assert "data-voice-distance" not in client.get(f"/ui/datasets/{ds.id}").text  # the base's voice is not known
    # A base whose voice scores 0.55 against the dataset's (a random tiny base has no voice to measure).
    u = np.asarray(voice)
    other = np.roll(u, 1) - np.dot(np.roll(u, 1), u) * u
    base_voice = 0.55 * u + np.sqrt(1 - 0.55**2) * other / np.linalg.norm(other)
    storage.write_json(base_voice_key(base), {"voice": base_voice.tolist()})

    text = client.get(f"/ui/datasets/{ds.id}").text
    minutes = recipe_for(settings).default_minutes(settings)
    assert "This voice is far from the base model tiny-base (the base scores 0.55 speaker similarity to it)" in text
    assert (
        f"With {minutes:g} minutes of CPU training expect a similarity of about "
        f"{expected_similarity(0.55, minutes):.2f}" in text
    )
    pvc = create_pvc(catalog, account.id, ds.id, "Narrator", base, max_minutes=12, settings=settings)
    text = client.get(f"/ui/pvcs/{pvc.id}").text
    assert "far from the base model tiny-base" in text and f"about {expected_similarity(0.55, 12):.2f}" in text
