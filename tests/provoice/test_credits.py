"""The credit ledger: exact milli-credit arithmetic and exactly-once charges under concurrency."""

import multiprocessing
import threading
from decimal import Decimal

import pytest
from sqlalchemy import inspect, select

from provoice.accounts import create_account, default_account
from provoice.catalog import Catalog
from provoice.catalog.models import CreditEntry
from provoice.credits import (
    PVC_TRAINING_CREDITS,
    balance,
    charged_credits,
    debit,
    format_credits,
    grant,
    history,
    require_balance,
    to_milli,
    tts_cost,
)
from provoice.errors import IdempotencyConflict, InsufficientCredits, NotFound

pytestmark = pytest.mark.both_databases


@pytest.fixture
def account(catalog):
    return default_account(catalog).id


def _entries(catalog, key):
    with catalog.session() as s:
        return list(s.scalars(select(CreditEntry).where(CreditEntry.idempotency_key == key)))


def test_ledger_schema(catalog):
    tables = set(inspect(catalog.engine).get_table_names())
    assert {"accounts", "api_keys", "credit_entries"} <= tables
    uniques = inspect(catalog.engine).get_unique_constraints("credit_entries")
    assert [u["column_names"] for u in uniques] == [["idempotency_key"]]


def test_grant_debit_balance_history(catalog, account):
    assert balance(catalog, account) == 0
    grant(catalog, account, 1_000_000)
    debit(catalog, account, tts_cost("hello"), kind="tts", reference="voice_1", idempotency_key="tts:r1")
    assert balance(catalog, account) == Decimal("999992.5")
    entries = history(catalog, account)
    assert [(e.kind, e.amount, e.credits) for e in entries] == [
        ("grant", 1_000_000_000, Decimal(1_000_000)),
        ("tts", -7_500, Decimal("-7.5")),
    ]


def test_tts_cost_is_exact_per_character():
    assert tts_cost("hello") == Decimal("7.5")
    assert tts_cost("") == 0
    assert tts_cost("e\u0301") == tts_cost("é") == Decimal("1.5")
    assert sum(tts_cost("a") for _ in range(1000)) == Decimal(1500)


def test_amounts_are_exact_or_refused():
    assert to_milli("0.001") == 1 and to_milli(Decimal("1.5")) == 1500 and to_milli(2) == 2000
    for bad in ("0.0001", "nan", "inf", "lots"):
        with pytest.raises(ValueError):
            to_milli(bad)
    assert format_credits(1_000_000) == "1,000,000" and format_credits(Decimal("2500.50")) == "2,500.5"


def test_charges_and_grants_must_be_positive(catalog, account):
    with pytest.raises(ValueError, match="positive"):
        grant(catalog, account, 0)
    with pytest.raises(ValueError, match="positive"):
        debit(catalog, account, -5, kind="tts", reference=None, idempotency_key="k")
    with pytest.raises(ValueError, match="idempotency key"):
        debit(catalog, account, 5, kind="tts", reference=None, idempotency_key="")


def test_repeated_debit_charges_once(catalog, account):
    grant(catalog, account, 2_000_000)
    first = debit(catalog, account, PVC_TRAINING_CREDITS, "pvc_training", "pvc_1", "pvc-training:pvc_1:m1")
    again = debit(catalog, account, PVC_TRAINING_CREDITS, "pvc_training", "pvc_1", "pvc-training:pvc_1:m1")
    assert again.id == first.id
    assert balance(catalog, account) == 1_000_000
    assert charged_credits(catalog, account, "pvc_1") == PVC_TRAINING_CREDITS
    debit(catalog, account, PVC_TRAINING_CREDITS, "pvc_training", "pvc_1", "pvc-training:pvc_1:m2")
    assert charged_credits(catalog, account, "pvc_1", kind="pvc_training") == 2 * PVC_TRAINING_CREDITS
    assert charged_credits(catalog, account, "pvc_other") == 0


def test_grant_with_a_key_is_applied_once(catalog, account):
    grant(catalog, account, 100, idempotency_key="welcome")
    grant(catalog, account, 100, idempotency_key="welcome")
    grant(catalog, account, 5)
    assert balance(catalog, account) == 105


def test_concurrent_debits_with_one_key_land_once(catalog, account):
    grant(catalog, account, 5_000_000)
    barrier = threading.Barrier(8)
    results, errors = [], []

    def charge():
        barrier.wait()
        try:
            results.append(debit(catalog, account, PVC_TRAINING_CREDITS, "pvc_training", "pvc_1", "same-key").id)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=charge) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 8 and len(set(results)) == 1
    assert [e.id for e in _entries(catalog, "same-key")] == results[:1]
    assert balance(catalog, account) == 4_000_000


def _debit_in_process(settings, account_id: str) -> str:
    return debit(Catalog(settings), account_id, 10, "tts", "voice_1", "proc-key").id


def test_concurrent_debits_from_processes_land_once(settings, catalog, account):
    grant(catalog, account, 10)
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        ids = pool.starmap(_debit_in_process, [(settings, account)] * 3)
    assert len(set(ids)) == 1
    assert len(_entries(catalog, "proc-key")) == 1 and balance(catalog, account) == 0


def test_a_reused_key_for_another_charge_is_a_conflict(catalog, account):
    grant(catalog, account, 10)
    debit(catalog, account, 10, "tts", "voice_1", "k1")
    other = create_account(catalog, "other").id
    with pytest.raises(IdempotencyConflict, match="already used for tts of 10 credits"):
        debit(catalog, account, 11, "tts", "voice_1", "k1")
    with pytest.raises(IdempotencyConflict):
        debit(catalog, other, 10, "tts", "voice_1", "k1")
    assert balance(catalog, account) == 0 and balance(catalog, other) == 0


def test_require_balance_says_what_is_missing(catalog, account):
    grant(catalog, account, 250_000)
    with pytest.raises(InsufficientCredits, match=r"^training needs 1,000,000 credits, available 250,000;"):
        require_balance(catalog, account, PVC_TRAINING_CREDITS, purpose="training")
    grant(catalog, account, 750_000)
    assert require_balance(catalog, account, PVC_TRAINING_CREDITS) == PVC_TRAINING_CREDITS


def test_unknown_accounts_are_not_found(catalog):
    with pytest.raises(NotFound, match="acct_nope"):
        balance(catalog, "acct_nope")
    with pytest.raises(NotFound, match="acct_nope"):
        debit(catalog, "acct_nope", 1, "tts", None, "k")


def test_a_charge_the_available_balance_does_not_cover_is_refused(catalog, account):
    grant(catalog, account, 10)
    with pytest.raises(InsufficientCredits, match="needs 11 credits, available 10"):
        debit(catalog, account, 11, "tts", "voice_1", "over")
    assert balance(catalog, account) == 10 and _entries(catalog, "over") == []


def test_holds_set_credits_aside_until_charged_or_released(catalog, account):
    from provoice.credits import account_balance, charge_hold, place_hold, release_hold

    grant(catalog, account, 1_500_000)
    place_hold(catalog, account, PVC_TRAINING_CREDITS, "pvc_training", "pvc_1", "hold-1")
    assert (
        place_hold(catalog, account, PVC_TRAINING_CREDITS, "pvc_training", "pvc_1", "hold-1").idempotency_key
        == "hold-1"
    )
    b = account_balance(catalog, account)
    assert (b.total, b.held, b.available) == (1_500_000, PVC_TRAINING_CREDITS, 500_000)
    with pytest.raises(InsufficientCredits, match=r"available 500,000 \(1,000,000 of 1,500,000 held"):
        place_hold(catalog, account, PVC_TRAINING_CREDITS, "pvc_training", "pvc_2", "hold-2")
    with pytest.raises(InsufficientCredits):
        debit(catalog, account, 600_000, "tts", "voice_1", "big-tts")
    entry = charge_hold(catalog, "hold-1", "pvc-training:pvc_1:m")
    assert charge_hold(catalog, "hold-1", "pvc-training:pvc_1:m").id == entry.id
    b = account_balance(catalog, account)
    assert (b.total, b.held, b.available) == (500_000, 0, 500_000)
    grant(catalog, account, 500_000)
    place_hold(catalog, account, PVC_TRAINING_CREDITS, "pvc_training", "pvc_2", "hold-2")
    release_hold(catalog, "hold-2")
    assert account_balance(catalog, account).available == PVC_TRAINING_CREDITS
    with pytest.raises(IdempotencyConflict, match="was released"):
        charge_hold(catalog, "hold-2", "pvc-training:pvc_2:m")


def _hold_in_process(settings, account_id: str, key: str) -> str:
    from provoice.credits import place_hold

    try:
        place_hold(Catalog(settings), account_id, PVC_TRAINING_CREDITS, "pvc_training", key, key)
        return "held"
    except InsufficientCredits as exc:
        return str(exc)


def test_holds_from_threads_and_processes_never_overdraw(settings, catalog, account):
    from provoice.credits import account_balance

    grant(catalog, account, PVC_TRAINING_CREDITS)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def hold(key: str) -> None:
        barrier.wait()
        results.append(_hold_in_process(settings, account, key))

    threads = [threading.Thread(target=hold, args=(f"t{i}",)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results.count("held") == 1 and all("available 0" in r for r in results if r != "held")
    grant(catalog, account, PVC_TRAINING_CREDITS)
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        out = pool.starmap(_hold_in_process, [(settings, account, f"p{i}") for i in range(3)])
    assert out.count("held") == 1
    b = account_balance(catalog, account)
    assert (b.total, b.held, b.available) == (2 * PVC_TRAINING_CREDITS, 2 * PVC_TRAINING_CREDITS, 0)
