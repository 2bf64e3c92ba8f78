"""The Playground in a real browser: sign-in, CSRF, account isolation and re-attempting training."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from interfaces.api.runner import Runner
from provoice.credits import PVC_TRAINING_CREDITS, grant
from provoice.pvc.budget import Budget
from provoice.pvc.service import create_pvc
from provoice.pvc.transitions import claim, fail_attempt
from provoice.voice_models import BaseModelRegistry
from tests.interfaces.web.conftest import csrf_of, sign_in

pytestmark = pytest.mark.browser


def test_sign_in_refuses_a_wrong_key_and_accepts_a_right_one(site, page):
    _, key = site.account("Dana Studio")
    page.goto(site.url + "/")
    expect(page).to_have_url(site.url + "/ui/sign-in")
    page.get_by_label("API key").fill("pv_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("does not open an account")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your voice clones")).to_be_visible()
    expect(page.locator(".signout .who")).to_have_text("Dana Studio")
    cookie = next(c for c in page.context.cookies() if c["name"] == "provoice_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(site.url + "/ui/sign-in")
    page.goto(site.url + "/ui/credits")
    expect(page.get_by_label("API key")).to_be_visible()


def test_forms_and_api_calls_without_the_csrf_token_are_refused(site, page):
    _, key = site.account("Dana Studio")
    sign_in(page, site.url, key)
    token = csrf_of(page)
    refused = page.request.post(site.url + "/ui/datasets", form={"name": "forged"}, max_redirects=0)
    assert refused.status == 403 and "CSRF" in refused.text()
    refused = page.request.post(site.url + "/ui/datasets", form={"name": "forged", "csrf": "0" * 64}, max_redirects=0)
    assert refused.status == 403
    refused = page.request.post(site.url + "/datasets", data={"name": "forged"})
    assert refused.status == 403 and refused.json()["error"] == "CsrfRefused"
    assert page.request.get(site.url + "/datasets").json() == []
    made = page.request.post(site.url + "/ui/datasets", form={"name": "mine", "csrf": token}, max_redirects=0)
    assert made.status == 303
    assert [d["name"] for d in page.request.get(site.url + "/datasets").json()] == ["mine"]


def test_a_second_account_sees_none_of_the_first(site, page, browser):
    alice, alice_key = site.account("Alice")
    _, bob_key = site.account("Bob")
    base = BaseModelRegistry(site.settings).create_random("tiny-base", tiny=True).id
    ds = site.catalog.create_dataset("alice's recordings", account_id=alice)
    pvc = create_pvc(site.catalog, alice, ds.id, "Alice narrator", base, settings=site.settings)
    sign_in(page, site.url, alice_key)
    expect(page.get_by_role("link", name="Alice narrator")).to_be_visible()

    other = browser.new_context().new_page()
    sign_in(other, site.url, bob_key)
    expect(other.get_by_text("No voice clones yet")).to_be_visible()
    for path in (f"/ui/pvcs/{pvc.id}", f"/ui/datasets/{ds.id}", f"/ui/fragments/pvcs/{pvc.id}"):
        response = other.goto(site.url + path)
        assert response.status == 404, path
        expect(other.get_by_role("heading", name="Not found")).to_be_visible()
    other.goto(site.url + "/ui/datasets")
    expect(other.get_by_text("alice's recordings")).to_have_count(0)
    forged = other.request.post(site.url + f"/ui/pvcs/{pvc.id}/retry", form={"csrf": csrf_of(other)}, max_redirects=0)
    assert forged.status == 404


def test_a_failed_pvc_is_re_attempted_from_the_home_page(site, page):
    account, key = site.account("Dana Studio")
    base = BaseModelRegistry(site.settings).create_random("tiny-base", tiny=True).id
    ds = site.catalog.create_dataset("recordings", account_id=account)
    pvc = create_pvc(site.catalog, account, ds.id, "Narrator", base, settings=site.settings)
    grant(site.catalog, account, PVC_TRAINING_CREDITS)
    claim(site.catalog, site.settings, pvc.id, retry=False, budget=Budget(max_steps=5), to="training")
    fail_attempt(site.catalog, pvc.id, "the worker was lost at step 3", "worker-lost")
    started = []
    site.app.state.runner = Runner(lambda name, params: started.append((name, params)) or "run-2")

    sign_in(page, site.url, key)
    row = page.locator(f'tr[data-pvc="{pvc.id}"]')
    expect(row.locator("[data-status]")).to_have_text("Failed")
    row.get_by_role("button", name="Re-attempt training").click()
    expect(page.locator("[data-live-root]")).to_have_attribute("data-status", "queued")
    assert started == [("pro-voice-clone/pro-voice-clone", {"pvc_id": pvc.id, "retry": True})]
    page.goto(site.url + "/")
    expect(page.locator(f'tr[data-pvc="{pvc.id}"] [data-status]')).to_have_text("Queued")
    expect(page.locator(f'tr[data-pvc="{pvc.id}"]')).to_contain_text("2")
