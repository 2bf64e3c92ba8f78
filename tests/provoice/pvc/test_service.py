import threading

import numpy as np
import pytest

from provoice.accounts import default_account
from provoice.catalog import Catalog
from provoice.credits import grant
from provoice.errors import NotFound
from provoice.pvc.budget import Budget
from provoice.pvc.service import PvcRefused, create_pvc, get_pvc
from provoice.pvc.transitions import claim as start
from provoice.pvc.transitions import complete, fail_attempt
from provoice.pvc.voices import clip_score

pytestmark = pytest.mark.both_databases


@pytest.fixture
def pvc(settings):
    catalog = Catalog(settings)
    ds = catalog.create_dataset("d")
    grant(catalog, default_account(catalog).id, 10_000_000)
    return catalog, create_pvc(catalog, default_account(catalog).id, ds.id, "Narrator", "base", settings=settings)


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
    failed = fail_attempt(catalog, p.id, "disk full")
    assert (failed.status, failed.reason, failed.step) == ("failed", "disk full", None)
    again = claim(catalog, p.id, retry=True)
    assert again.attempts == 2 and again.reason is None and again.status == "training"
    complete(catalog, p.id, model_id="base/x")
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


def test_a_dataset_a_pvc_was_made_from_is_not_deleted(pvc):
    from provoice.catalog import DatasetFile
    from provoice.pvc.service import DatasetInUse, delete_dataset

    catalog, p = pvc
    account = default_account(catalog).id
    catalog.add_file(dataset_id=p.dataset_id, original_name="a.wav", sha256="a" * 64, size=10)
    with pytest.raises(DatasetInUse, match=f"PVC {p.id} was made from it"):
        delete_dataset(catalog, p.dataset_id, account)
    assert [f.original_name for f in catalog.files(p.dataset_id)] == ["a.wav"]

    spare = catalog.create_dataset("spare", description="takes")
    catalog.add_file(dataset_id=spare.id, original_name="b.wav", sha256="b" * 64, size=10)
    catalog.start_run(spare.id, "v1", {}, 1, lease_s=60)
    with pytest.raises(DatasetInUse, match="while it is being prepared"):
        delete_dataset(catalog, spare.id, account)
    catalog.update_run(catalog.latest_run(spare.id, status="running").id, status="completed")
    with pytest.raises(NotFound):
        delete_dataset(catalog, spare.id, "acct_other")
    assert delete_dataset(catalog, spare.id, account).description == "takes"
    with pytest.raises(NotFound):
        catalog.get_dataset(spare.id)
    with catalog.session() as s:
        assert s.query(DatasetFile).filter_by(dataset_id=spare.id).count() == 0


def test_only_a_pvc_never_started_and_without_consent_recordings_is_deleted(pvc, settings):
    from provoice.catalog import ConsentAttempt
    from provoice.catalog.models import utcnow
    from provoice.consent import new_prompt
    from provoice.pvc.service import delete_pvc

    catalog, p = pvc
    account = default_account(catalog).id
    prompt = new_prompt(catalog, settings, p.id)
    with catalog.session() as s:
        s.add(
            ConsentAttempt(
                prompt_id=prompt.id,
                pvc_id=p.id,
                account_id=account,
                created_at=utcnow(),
                original_name="c.wav",
                recording_key="k",
                sha256="c" * 64,
                size_bytes=1,
                verified=False,
            )
        )
    with pytest.raises(PvcRefused, match="consent recordings are kept"):
        delete_pvc(catalog, p.id, account)
    claim(catalog, p.id)
    with pytest.raises(PvcRefused, match="it was started"):
        delete_pvc(catalog, p.id, account)

    draft = create_pvc(catalog, account, p.dataset_id, "Draft", "base", train_on_consent=True, settings=settings)
    assert get_pvc(catalog, draft.id).train_on_consent is True and p.train_on_consent is False
    new_prompt(catalog, settings, draft.id)
    delete_pvc(catalog, draft.id, account)
    with pytest.raises(NotFound):
        get_pvc(catalog, draft.id)
