import threading

import numpy as np
import pytest

from provoice.accounts import default_account
from provoice.catalog import Catalog
from provoice.errors import NotFound
from provoice.credits import grant
from provoice.pvc.lifecycle import Budget
from provoice.pvc.lifecycle import claim as start
from provoice.pvc.service import PvcRefused, create_pvc, finish, get_pvc
from provoice.pvc.voices import clip_score


@pytest.fixture
def pvc(settings):
    catalog = Catalog(settings)
    ds = catalog.create_dataset("d")
    grant(catalog, default_account(catalog).id, 10_000_000)
    return catalog, create_pvc(catalog, default_account(catalog).id, ds.id, "Narrator", "base")


def claim(catalog, pvc_id, retry=False):
    from provoice.settings import Settings

    return start(catalog, Settings(), pvc_id, retry=retry, budget=Budget(), to="training")


def test_two_concurrent_starts_run_once(pvc):
    catalog, p = pvc
    results = []
    barrier = threading.Barrier(6)

    def start():
        barrier.wait()
        try:
            claim(catalog, p.id)
            results.append("claimed")
        except PvcRefused as exc:
            results.append(str(exc))
    threads = [threading.Thread(target=start) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results.count("claimed") == 1
    assert all("is already training (attempt 1" in r for r in results if r != "claimed")


def test_lifecycle_and_refusals(pvc):
    catalog, p = pvc
    with pytest.raises(PvcRefused, match="has not been trained yet"):
        claim(catalog, p.id, retry=True)
    claim(catalog, p.id)
    failed = finish(catalog, p.id, "failed", reason="disk full")
    assert (failed.status, failed.reason, failed.step) == ("failed", "disk full", None)
    again = claim(catalog, p.id, retry=True)
    assert again.attempts == 2 and again.reason is None and again.status == "training"
    finish(catalog, p.id, "completed", model_id="base/x")
    with pytest.raises(PvcRefused, match="completed with model base/x"):
        claim(catalog, p.id)
    with pytest.raises(NotFound):
        get_pvc(catalog, p.id, account_id="acct_other")


def test_clip_score_prefers_clean_confident_on_speaker_clips():
    good = {"duration": 5.0, "metrics": {"speaker_similarity": 0.95, "snr_db": 40, "avg_logprob": -0.1}}
    noisy = {"duration": 5.0, "metrics": {"speaker_similarity": 0.95, "snr_db": 12, "avg_logprob": -0.1}}
    short = {"duration": 1.2, "metrics": {"speaker_similarity": 0.95, "snr_db": 40, "avg_logprob": -0.1}}
    assert clip_score(good) > clip_score(noisy) and clip_score(good) > clip_score(short)
    assert np.isfinite(clip_score({"duration": 3.0, "metrics": {}}))
