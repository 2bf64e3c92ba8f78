"""`provoice serve` end to end: a real `prefect server start` on a free port with a temporary home,
every deployment served, the retrain schedule and triggers registered; a `base-model.registered`
event from the CLI makes a retrain run that completes; an S3 event posted to the API starts ingest
and then preparation of the right dataset; a wrong secret is refused; Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from provoice import synthetic
from provoice.accounts import default_account
from provoice.catalog import Catalog, Pvc
from provoice.credits import PVC_TRAINING_CREDITS, grant
from provoice.pvc.service import create_pvc, get_pvc
from provoice.voice_models.registry import BaseModelRegistry
from tests.conftest import _free_port, narrator_dataset

pytestmark = pytest.mark.integration
SECRET = "bucket-secret"
ROOT = Path(__file__).resolve().parents[2]


def _wait(what: str, probe, timeout_s: float, every_s: float = 1.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


class PrefectApi:
    def __init__(self, url: str):
        self.url, self.http = url, httpx.Client(base_url=url, timeout=20)

    def deployments(self) -> dict[str, dict]:
        rows = self.http.post("/deployments/filter", json={}).json()
        flows = {f["id"]: f["name"] for f in self.http.post("/flows/filter", json={}).json()}
        return {f"{flows[d['flow_id']]}/{d['name']}": d for d in rows}

    def automations(self) -> list[dict]:
        return self.http.post("/automations/filter", json={}).json()

    def runs(self, deployment_id: str) -> list[dict]:
        return self.http.post("/flow_runs/filter", json={
            "deployments": {"id": {"any_": [deployment_id]}}}).json()

    def finished(self, deployment_id: str, **params) -> dict | None:
        """A run of the deployment with these parameters that reached a final state (failing the test
        if it did not complete)."""
        for run in self.runs(deployment_id):
            if all(run["parameters"].get(k) == v for k, v in params.items()) and run["state_type"] in (
                    "COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                assert run["state_type"] == "COMPLETED", f"{run['name']}: {run['state']}"
                return run
        return None


@pytest.fixture
def completed_pvc(prefect_harness, settings, tmp_path):
    """A completed PVC on a tiny base, marked for auto-retrain, made with the in-process flow."""
    from flows.pvc import pro_voice_clone

    catalog = Catalog(settings)
    ds = narrator_dataset(catalog, tmp_path / "narrator", 5)
    BaseModelRegistry(settings).create_random("tiny-base", tiny=True)
    account = default_account(catalog).id
    grant(catalog, account, PVC_TRAINING_CREDITS)
    pvc = create_pvc(catalog, account, ds.id, "Narrator", "tiny-base")
    pro_voice_clone(pvc_id=pvc.id, max_steps=2)
    with catalog.session() as s:
        s.get(Pvc, pvc.id).auto_retrain = True
    return get_pvc(catalog, pvc.id)


@pytest.fixture
def served(completed_pvc, settings, tmp_path, s3_endpoint):
    """`provoice serve` with no PREFECT_API_URL, so it starts its own Prefect server."""
    prefect_port, api_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_RUNNER_POLL_FREQUENCY="2", PREFECT_LOGGING_LEVEL="WARNING",
               PROVOICE_BUCKET_EVENTS_SECRET=SECRET, PROVOICE_S3_ENDPOINT_URL=s3_endpoint,
               PROVOICE_PVC_TRAIN_MINUTES="0.05")
    proc = subprocess.Popen([sys.executable, "-m", "interfaces.cli", "serve", "--prefect-port", str(prefect_port),
                             "--api-port", str(api_port)], env=env, cwd=tmp_path)
    api = PrefectApi(f"http://127.0.0.1:{prefect_port}/api")
    try:
        _wait("the Prefect server", lambda: _get(f"{api.url}/health"), 180)
        _wait("the ProVoice API", lambda: _get(f"http://127.0.0.1:{api_port}/openapi.json"), 120)
        _wait("five deployments", lambda: len(api.deployments()) == 5, 120)
        yield {"proc": proc, "api": api, "api_url": f"http://127.0.0.1:{api_port}", "env": env,
               "prefect_port": prefect_port}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def _get(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_serve_runs_schedules_triggers_and_bucket_events(served, completed_pvc, settings, tmp_path, s3_endpoint):
    api, proc = served["api"], served["proc"]
    deployments = api.deployments()
    assert set(deployments) == {"pro-voice-clone/pro-voice-clone", "prepare-dataset/prepare-dataset",
                                "retrain-on-new-base-model/retrain-on-new-base-model",
                                "ingest-files/ingest-upload", "fine-tune/gpu", "reap-pvcs/reap-pvcs"}
    retrain = deployments["retrain-on-new-base-model/retrain-on-new-base-model"]
    assert [s["schedule"]["cron"] for s in retrain["schedules"]] == ["0 3 * * *"]
    triggers = {a["name"] for a in api.automations()}
    assert {"retrain-on-base-model-registered", "prepare-on-files-uploaded", "ingest-on-bucket-upload"} <= triggers
    limit = api.http.get("/v2/concurrency_limits/gpu").json()
    assert limit["limit"] == 1
    scheduled = _wait("the scheduler to plan daily retrains", lambda: [
        r for r in api.runs(retrain["id"]) if r["state_type"] == "SCHEDULED"], 90, 2)
    assert all(r["expected_start_time"].endswith("T03:00:00Z") for r in scheduled)

    # A new base model registered through the CLI emits the event; the trigger starts a retrain.
    cli = subprocess.run([sys.executable, "-m", "interfaces.cli", "base-model", "create-random", "--id", "tiny-base-2",
                          "--seed", "1", "--json"], env={**served["env"], "PREFECT_API_URL": api.url},
                         capture_output=True, text=True, timeout=180)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["created"] is True
    run = _wait("a completed retrain run", lambda: api.finished(retrain["id"], base_model_id="tiny-base-2"), 420, 3)
    assert run["parameters"] == {"base_model_id": "tiny-base-2"}
    from provoice.pvc.retrain import decisions

    decided = decisions(Catalog(settings), completed_pvc.id)
    assert [(d.base_model_id, d.decision) for d in decided][-1][0] == "tiny-base-2"
    assert decided[-1].decision in ("promoted", "kept") and decided[-1].reason

    # An S3 upload notification: a wrong secret is refused, the right one starts ingest, then prepare.
    import s3fs

    catalog = Catalog(settings)
    target = catalog.create_dataset("uploads")
    bucket = f"up-{os.urandom(3).hex()}"
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint})
    fs.mkdir(bucket)
    take = tmp_path / "take 1.wav"
    synthetic.speech_file(take, synthetic.corpus(4, start=20))
    key = f"uploads/{target.id}/take 1.wav"
    fs.put(str(take), f"{bucket}/{key}")
    notification = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                 "s3": {"bucket": {"name": bucket},
                                        "object": {"key": key.replace(" ", "+"), "size": take.stat().st_size}}}]}
    url = f"{served['api_url']}/bucket-events"
    assert httpx.post(url, json=notification, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.post(url, json=notification).status_code == 401
    answer = httpx.post(url, json=notification, headers={"Authorization": f"Bearer {SECRET}"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["datasets"] == {target.id: [f"s3://{bucket}/{key}"]}

    deployments = api.deployments()
    ingest = _wait("a completed ingest-upload run", lambda: api.finished(
        deployments["ingest-files/ingest-upload"]["id"], dataset_id=target.id), 180, 2)
    assert ingest["parameters"]["sources"] == [f"s3://{bucket}/{key}"]
    assert [f.original_name for f in catalog.files(target.id)] == ["take 1.wav"]
    _wait("a completed prepare run of that dataset", lambda: api.finished(
        deployments["prepare-dataset/prepare-dataset"]["id"], dataset_id=target.id), 240, 2)
    assert catalog.latest_run(target.id) is not None

    # The same deployments on work pools, as infra/ registers them.
    for command in (["ops", "setup"], ["ops", "deploy"]):
        done = subprocess.run([sys.executable, "-m", "interfaces.cli", *command, "--json"], capture_output=True,
                              text=True, env={**served["env"], "PREFECT_API_URL": api.url}, timeout=180)
        assert done.returncode == 0, done.stderr
    pools = {name: d["work_pool_name"] for name, d in api.deployments().items()}
    assert pools == {"pro-voice-clone/pro-voice-clone": "cpu", "prepare-dataset/prepare-dataset": "cpu",
                     "retrain-on-new-base-model/retrain-on-new-base-model": "cpu",
                     "ingest-files/ingest-upload": "cpu", "fine-tune/gpu": "gpu", "reap-pvcs/reap-pvcs": "cpu"}
    gpu_pool = api.http.get("/work_pools/gpu").json()
    assert gpu_pool["type"] == "kubernetes"
    assert gpu_pool["base_job_template"]["variables"]["properties"]["gpu_count"]["default"] == 1

    # Ctrl-C stops the API, the served deployments and the Prefect server it started.
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    assert not _get(f"{api.url}/health")
    assert not _get(f"{served['api_url']}/openapi.json")
