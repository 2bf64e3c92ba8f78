"""A PVC survives what kills its worker: a SIGKILLed `provoice pvc train` is found by its lapsed
lease, failed with a reason (hold released), and a retry resumes from the last checkpoint and
trains exactly the budget; a run that failed at the speech gate keeps its budget for the retry;
a failure after the export is retried by Prefect without training again."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import signal
import time

import pytest
from typer.testing import CliRunner

from interfaces.cli import app
from provoice.accounts import default_account
from provoice.catalog import Catalog
from provoice.credits import PVC_TRAINING_CREDITS, account_balance, grant, holds
from provoice.pvc.service import create_pvc, get_pvc
from provoice.storage import Storage
from provoice.voice_models.registry import BaseModelRegistry
from tests.cli_process import provoice_process
from tests.conftest import copy_chapters, narrator_dataset

pytestmark = pytest.mark.integration
runner = CliRunner()
#: The killed run's budget: the kill comes once step 3 is checkpointed, well before the end.
KILLED_RUN_STEPS = 12


@pytest.fixture
def funded(prefect_harness, settings, tmp_path):
    catalog = Catalog(settings)
    account = default_account(catalog).id
    grant(catalog, account, PVC_TRAINING_CREDITS)
    BaseModelRegistry(settings).create_random("tiny-base", tiny=True)
    return catalog, account


def _result(settings, pvc_id: str) -> dict:
    return Storage.from_settings(settings).read_json(f"training/{pvc_id}/result.json")


def _checkpointed_step(settings, pvc_id: str) -> int:
    """The newest checkpoint's step (0 without one); the trainer keeps only the newest few."""
    steps = [int(p.stem.removeprefix("step-")) for p in settings.home.rglob(f"training/{pvc_id}/checkpoints/step-*.pt")]
    return max(steps, default=0)


def test_a_killed_worker_is_reaped_and_the_retry_resumes_from_its_checkpoint(
    funded, prepared_narrator, settings, tmp_path, monkeypatch
):
    from prefect.settings import get_current_settings

    catalog, account = funded
    monkeypatch.setenv("PROVOICE_PVC_LEASE_SECONDS", "2")
    monkeypatch.setenv("PROVOICE_TRAIN_CHECKPOINT_EVERY", "1")
    ds = prepared_narrator(catalog, tmp_path / "up", 5)
    pvc = create_pvc(catalog, account, ds.id, "Narrator", "tiny-base", settings=settings)
    env = {**os.environ, "PREFECT_API_URL": get_current_settings().api.url, "PREFECT_LOGGING_LEVEL": "WARNING"}
    log, budget = tmp_path / "worker.log", str(KILLED_RUN_STEPS)
    worker = provoice_process(["pvc", "train", pvc.id, "--max-steps", budget, "--json"], env, log)
    try:
        deadline = time.monotonic() + 600
        while _checkpointed_step(settings, pvc.id) < 3:
            assert worker.poll() is None, f"the worker ended ({worker.returncode}): {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no checkpoints after 600 s"
            time.sleep(0.2)
        assert get_pvc(catalog, pvc.id).status == "training"
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
    assert account_balance(catalog, account).held == PVC_TRAINING_CREDITS  # still held: nobody failed it yet

    time.sleep(2.5)  # the lease lapses: nothing renews it any more
    shown = json.loads(runner.invoke(app, ["pvc", "show", pvc.id, "--json"]).stdout)
    assert (shown["status"], shown["failure_kind"]) == ("failed", "worker-lost")
    assert "re-attempt training to resume from the last checkpoint" in shown["reason"]
    assert [h.status for h in holds(catalog, account)] == ["released"]
    assert account_balance(catalog, account).available == PVC_TRAINING_CREDITS

    r = runner.invoke(app, ["pvc", "retry", pvc.id, "--json"])  # no budget: the stored one
    assert r.exit_code == 0, r.stdout + r.stderr
    done = json.loads(r.stdout)
    assert (done["status"], done["attempts"], done["budget"]["max_steps"]) == ("completed", 2, KILLED_RUN_STEPS)
    result = _result(settings, pvc.id)
    assert result["steps"] == KILLED_RUN_STEPS and result["resumed_from"] and "step-" in result["resumed_from"]
    assert done["charged_credits"] == PVC_TRAINING_CREDITS
    assert account_balance(catalog, account).total == 0


def test_a_gate_failure_keeps_the_budget_and_the_retry_trains_exactly_it(
    funded, prepared_narrator, prepared_chapters, settings, tmp_path
):
    from flows.ingest import ingest_files

    catalog, account = funded
    ds = prepared_narrator(catalog, tmp_path / "up", 1)
    pvc = create_pvc(catalog, account, ds.id, "Narrator", "tiny-base", settings=settings)
    r = runner.invoke(app, ["pvc", "train", pvc.id, "--max-steps", "6", "--json"])
    failed = json.loads(r.stdout)
    assert r.exit_code == 1 and failed["reason"].startswith("needs ≥ 30.0 s of accepted speech")
    assert failed["budget"] == {"max_steps": 6, "max_minutes": None}

    more = copy_chapters(prepared_chapters, tmp_path / "more", range(1, 5))  # the speech it lacked
    ingest_files(ds.id, [str(more)])
    r = runner.invoke(app, ["pvc", "retry", pvc.id, "--json"])
    assert r.exit_code == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["status"] == "completed"
    assert _result(settings, pvc.id)["steps"] == 6


def test_a_failure_after_the_export_is_retried_without_training_again(
    funded, prepared_narrator, settings, tmp_path, monkeypatch
):
    import provoice.voice_models.pipeline as pipeline
    import tasks.train
    from flows.pvc import pro_voice_clone

    catalog, account = funded
    ds = prepared_narrator(catalog, tmp_path / "up", 5)
    pvc = create_pvc(catalog, account, ds.id, "Narrator", "tiny-base", settings=settings)
    trained, exported = [], []
    real_train, real_export = pipeline.train_bundle, pipeline.export_generator

    def counted_train(*args, **kwargs):
        trained.append(1)
        return real_train(*args, **kwargs)

    def export_then_drop(*args, **kwargs):
        exported.append(1)
        real_export(*args, **kwargs)
        if len(exported) == 1:
            raise OSError("connection reset after the upload")

    monkeypatch.setattr(pipeline, "train_bundle", counted_train)
    monkeypatch.setattr(pipeline, "export_generator", export_then_drop)
    monkeypatch.setattr(tasks.train.fine_tune_task, "retry_delay_seconds", [0.1, 0.1])
    out = pro_voice_clone(pvc_id=pvc.id, max_steps=3)
    assert out.status == "completed"
    assert (len(trained), len(exported)) == (1, 1)
    assert get_pvc(catalog, pvc.id).attempts == 1


def test_a_storage_outage_during_prepare_fails_as_infrastructure_not_as_rejections(
    prefect_harness, tmp_path, monkeypatch
):
    import s3fs
    from moto.server import ThreadedMotoServer
    from prefect import Task

    import tasks
    from flows.pvc import pro_voice_clone
    from provoice.settings import Settings
    from tests.conftest import _free_port

    port = _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint}).mkdir("outage")
    monkeypatch.setenv("PROVOICE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PROVOICE_STORAGE_URI", "s3://outage/store")
    monkeypatch.setenv("PROVOICE_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("PROVOICE_MIN_SPEECH_SECONDS", "30")
    monkeypatch.setenv("PROVOICE_REQUIRE_CONSENT", "false")
    settings = Settings()
    catalog = Catalog(settings)
    account = default_account(catalog).id
    grant(catalog, account, PVC_TRAINING_CREDITS)
    BaseModelRegistry(settings).create_random("tiny-base", tiny=True)
    ds = narrator_dataset(catalog, tmp_path / "up", 2)
    pvc = create_pvc(catalog, account, ds.id, "Narrator", "tiny-base", settings=settings)
    for info in pkgutil.iter_modules(tasks.__path__):  # retries keep their count, not their minutes
        module = importlib.import_module(f"tasks.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Task) and value.retries:
                monkeypatch.setattr(value, "retry_delay_seconds", [0.05] * value.retries)
    s3fs.S3FileSystem.clear_instance_cache()
    moto.stop()

    with pytest.raises(Exception):  # noqa: B017  # whatever the outage raises; the PVC's record is what is checked
        pro_voice_clone(pvc_id=pvc.id, max_steps=2)
    failed = get_pvc(catalog, pvc.id)
    assert (failed.status, failed.failure_kind) == ("failed", "infrastructure")
    assert failed.reason.startswith(
        "infrastructure error (storage, database or Prefect API), not a problem with your data"
    )
    assert {f.status for f in catalog.files(ds.id)} == {"pending"}
    assert account_balance(catalog, account).available == PVC_TRAINING_CREDITS
