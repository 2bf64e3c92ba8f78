"""The speech meter on SQLite and PostgreSQL: a hold whose commit landed but whose answer was lost
(the connection died) is released, not left held; settling waits out an unreachable catalog."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.exc import OperationalError

import provoice.pvc.tts as tts
from provoice.accounts import default_account
from provoice.catalog import Voice
from provoice.credits import grant, holds
from provoice.pvc.tts import Meter
from tests.waiting import wait_for

pytestmark = pytest.mark.both_databases


@pytest.fixture
def voice(catalog):
    account = default_account(catalog).id
    grant(catalog, account, Decimal(1000))
    return Voice(id="voice_x", account_id=account, model_id="m")


def _lost_answer(monkeypatch):
    """`place_hold` commits, then the connection dies before its answer comes back."""
    real = tts.place_hold

    def committed_then_lost(*args, **kwargs):
        real(*args, **kwargs)
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(tts, "place_hold", committed_then_lost)


def test_a_hold_whose_answer_was_lost_is_released(catalog, voice, monkeypatch):
    _lost_answer(monkeypatch)
    with pytest.raises(OperationalError):
        Meter(catalog, voice, "Hello there.")
    assert [h.status for h in holds(catalog, voice.account_id)] == ["released"]


def test_a_keyed_hold_is_left_to_the_key_s_retry_which_reuses_it(catalog, voice, monkeypatch):
    _lost_answer(monkeypatch)
    with pytest.raises(OperationalError):
        Meter(catalog, voice, "Hello there.", request_id="acct:key-1")
    monkeypatch.undo()
    retry = Meter(catalog, voice, "Hello there.", request_id="acct:key-1")
    retry.charge()
    assert [h.status for h in holds(catalog, voice.account_id)] == ["charged"]


def test_settling_waits_for_the_catalog_to_answer_again(catalog, voice, monkeypatch):
    meter = Meter(catalog, voice, "Hello there.")
    monkeypatch.setattr(tts, "SETTLE_RETRY_S", 30.0)
    real_charge, down = tts.charge_hold, [3]

    def outage(*args, **kwargs):
        if down[0]:
            down[0] -= 1
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return real_charge(*args, **kwargs)

    monkeypatch.setattr(tts, "charge_hold", outage)
    tts.settle_hold(meter.charge, meter.hold_key)  # returns at once; a thread retries
    wait_for("the charge once the catalog answers", lambda: holds(catalog, voice.account_id, "charged"), 30)
    assert down == [0] and not holds(catalog, voice.account_id, "held")
