"""Consent in the catalog, on SQLite and PostgreSQL: a new prompt replaces the open one, attempts are
counted atomically against the prompt's limit (racing submissions take one each), a verified attempt
becomes the consent and replaces an earlier one, invalidation is kept with its reason, and the
training claim refuses a PVC without a valid consent."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import update

from provoice.accounts import default_account
from provoice.catalog import ConsentAttempt, ConsentPrompt
from provoice.catalog.models import utcnow
from provoice.consent import (
    ConsentRefused,
    ConsentRequired,
    consent_refusal,
    consent_views,
    current_consent,
    prompts_of,
)
from provoice.consent.records import create_prompt, invalidate, record_attempt, take_attempt, usable_prompt
from provoice.consent.service import new_prompt
from provoice.credits import PVC_TRAINING_CREDITS, grant, holds
from provoice.pvc.budget import Budget
from provoice.pvc.service import create_pvc, get_pvc
from provoice.pvc.transitions import claim
from provoice.settings import Settings

pytestmark = pytest.mark.both_databases


@pytest.fixture
def pvc(catalog):
    account = default_account(catalog).id
    ds = catalog.create_dataset("d")
    return create_pvc(catalog, account, ds.id, "Narrator", "base", speaker_name="Dana Reyes", settings=Settings())


def _prompt(catalog, pvc, max_attempts=3, hours=1.0) -> ConsentPrompt:
    return create_prompt(catalog, pvc.id, pvc.account_id, "I am Dana Reyes.", ["red", "fox"], hours, max_attempts)


def catalog_prompts(catalog, pvc_id) -> list[ConsentPrompt]:
    return prompts_of(catalog, [pvc_id])


def _attempt(prompt: ConsentPrompt, verified: bool, n: int = 0) -> ConsentAttempt:
    return ConsentAttempt(
        prompt_id=prompt.id,
        pvc_id=prompt.pvc_id,
        account_id=prompt.account_id,
        original_name=f"reading {n}.wav",
        recording_key=f"consent/{prompt.pvc_id}/{n}.wav",
        sha256=f"{n:064d}",
        size_bytes=100,
        verified=verified,
        reason=None if verified else "the prompt's words were not heard",
        voice=[0.1, 0.2],
    )


def test_a_new_prompt_replaces_the_open_one_and_refusals_say_what_to_do(catalog, settings, pvc):
    first = new_prompt(catalog, settings, pvc.id)
    second = new_prompt(catalog, settings, pvc.id)
    assert usable_prompt(catalog, pvc.id).id == second.id
    views = consent_views(catalog, [pvc.id])
    assert views[pvc.id].status == "prompted", views
    statuses = {p.id: p.status for p in catalog_prompts(catalog, pvc.id)}
    assert statuses == {first.id: "replaced", second.id: "open"}

    with catalog.session() as s:
        s.execute(update(ConsentPrompt).where(ConsentPrompt.id == second.id).values(expires_at=utcnow()))
    with pytest.raises(ConsentRefused, match="expired .* get a new prompt"):
        usable_prompt(catalog, pvc.id)


def test_racing_submissions_take_one_attempt_each_and_never_more_than_the_limit(catalog, pvc):
    _prompt(catalog, pvc, max_attempts=3)
    barrier, outcomes = threading.Barrier(4), []

    def submit():
        seen = usable_prompt(catalog, pvc.id)  # all four read the prompt before any counts
        barrier.wait()
        try:
            outcomes.append(take_attempt(catalog, seen))
        except ConsentRefused as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(2) == 1, outcomes
    assert all("changed while this recording arrived" in o for o in outcomes if o != 2), outcomes

    left = [take_attempt(catalog, usable_prompt(catalog, pvc.id)) for _ in range(2)]
    assert left == [1, 0]
    with pytest.raises(ConsentRefused, match="all 3 attempts of this consent prompt are used"):
        usable_prompt(catalog, pvc.id)
    assert catalog_prompts(catalog, pvc.id)[0].attempts_used == 3


def test_the_verified_attempt_is_the_consent_until_replaced_or_invalidated(catalog, settings, pvc, monkeypatch):
    monkeypatch.setattr(settings, "require_consent", True)
    grant(catalog, pvc.account_id, PVC_TRAINING_CREDITS)
    with pytest.raises(ConsentRequired, match="before its speaker's consent is verified"):
        claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=4))
    assert not holds(catalog, pvc.account_id), "a refused claim holds nothing"

    first = _prompt(catalog, pvc)
    record_attempt(catalog, _attempt(first, verified=False, n=1))
    assert current_consent(catalog, pvc.id) is None
    kept = record_attempt(catalog, _attempt(first, verified=True, n=2))
    consent = current_consent(catalog, pvc.id)
    assert consent is not None and consent.valid and consent.attempt.id == kept.id
    assert consent_refusal(catalog, settings, get_pvc(catalog, pvc.id)) is None

    second = _prompt(catalog, pvc)
    later = record_attempt(catalog, _attempt(second, verified=True, n=3))
    statuses = {p.id: p.status for p in catalog_prompts(catalog, pvc.id)}
    assert statuses == {first.id: "replaced", second.id: "verified"}
    assert current_consent(catalog, pvc.id).attempt.id == later.id

    invalidate(catalog, second.id, "the dataset's dominant voice changed (similarity 0.31)")
    consent = current_consent(catalog, pvc.id)
    assert consent is not None and not consent.valid
    assert consent_views(catalog, [pvc.id])[pvc.id].status == "invalidated"
    with pytest.raises(ConsentRequired, match=r"no longer valid \(the dataset's dominant voice changed"):
        claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=4))
    assert not holds(catalog, pvc.account_id)

    third = _prompt(catalog, pvc)
    record_attempt(catalog, _attempt(third, verified=True, n=4))
    queued = claim(catalog, settings, pvc.id, retry=False, budget=Budget(max_steps=4))
    assert queued.status == "queued" and [h.status for h in holds(catalog, pvc.account_id)] == ["held"]
