"""`provoice serve` end to end: a real `prefect server start` on a free port with a temporary home,
every deployment served, the retrain schedule and triggers registered; an S3 event posted to the API
starts ingest and then preparation of the right dataset (a wrong secret is refused); a PVC on it
trains through the API; a `base-model.registered` event from the CLI makes a retrain of that PVC
that completes; Ctrl-C stops everything. The same deployments on work pools, run by workers, are
`tests/deployments/test_cluster.py`'s."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from provoice import synthetic
from provoice.accounts import default_account
from provoice.catalog import Catalog, Pvc
from provoice.credits import PVC_TRAINING_CREDITS, grant
from provoice.pvc.service import create_pvc
from provoice.voice_models.registry import BaseModelRegistry
from tests.conftest import _free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.integration
SECRET = "bucket-secret"
ROOT = Path(__file__).resolve().parents[2]


def _wait(what: str, probe, timeout_s: float, every_s: float = 1.0):
    return wait_for(what, probe, timeout_s, every_s)


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
        return self.http.post("/flow_runs/filter", json={"deployments": {"id": {"any_": [deployment_id]}}}).json()

    def finished(self, deployment_id: str, **params) -> dict | None:
        """A run of the deployment with these parameters that reached a final state (failing the test
        if it did not complete)."""
        for run in self.runs(deployment_id):
            if all(run["parameters"].get(k) == v for k, v in params.items()) and run["state_type"] in (
                "COMPLETED",
                "FAILED",
                "CRASHED",
                "CANCELLED",
            ):
                assert run["state_type"] == "COMPLETED", f"{run['name']}: {run['state']}"
                return run
        return None


@pytest.fixture
def served(settings, tmp_path, s3_endpoint):
    """`provoice serve` with no PREFECT_API_URL, so it starts (or reuses) the home's local Prefect
    server; the `settings` fixture stops that server when the test ends."""
    from deployments.local_server import LocalServer

    api_port, bucket = _free_port(), f"up-{os.urandom(3).hex()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_RUNNER_POLL_FREQUENCY="2",
        PREFECT_LOGGING_LEVEL="WARNING",
        PROVOICE_BUCKET_EVENTS_SECRET=SECRET,
        PROVOICE_S3_ENDPOINT_URL=s3_endpoint,
        PROVOICE_BUCKET_EVENTS_BUCKETS=bucket,
        PROVOICE_PVC_TRAIN_MINUTES="0.01",  # the retrain: one step proves the path
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "interfaces.cli", "serve", "--api-port", str(api_port)], env=env, cwd=tmp_path
    )
    local = LocalServer(settings, say=lambda _: None)
    try:
        record = _wait("the local Prefect server", local.running, 240)
        api = PrefectApi(record.api_url)
        _wait("the ProVoice API", lambda: _get(f"http://127.0.0.1:{api_port}/openapi.json"), 120)
        _wait("six deployments", lambda: len(api.deployments()) == 6, 180)
        yield {
            "proc": proc,
            "api": api,
            "api_url": f"http://127.0.0.1:{api_port}",
            "env": env,
            "api_port": api_port,
            "local": local,
            "bucket": bucket,
        }
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


def test_serve_runs_schedules_triggers_and_bucket_events(served, settings, tmp_path, s3_endpoint):
    api, proc = served["api"], served["proc"]
    deployments = api.deployments()
    assert set(deployments) == {
        "pro-voice-clone/pro-voice-clone",
        "prepare-dataset/prepare-dataset",
        "retrain-on-new-base-model/retrain-on-new-base-model",
        "ingest-files/ingest-upload",
        "fine-tune/gpu",
        "reap-pvcs/reap-pvcs",
    }
    retrain = deployments["retrain-on-new-base-model/retrain-on-new-base-model"]
    assert [s["schedule"]["cron"] for s in retrain["schedules"]] == ["0 3 * * *"]
    triggers = {a["name"] for a in api.automations()}
    assert {"retrain-on-base-model-registered", "prepare-on-files-uploaded", "ingest-on-bucket-upload"} <= triggers
    limit = api.http.get("/v2/concurrency_limits/gpu").json()
    assert limit["limit"] == 1
    scheduled = _wait(
        "the scheduler to plan daily retrains",
        lambda: [r for r in api.runs(retrain["id"]) if r["state_type"] == "SCHEDULED"],
        90,
        2,
    )
    assert all(r["expected_start_time"].endswith("T03:00:00Z") for r in scheduled)

    # An S3 upload notification: a wrong secret is refused, the right one starts ingest, then prepare.
    # The take holds enough speech (PROVOICE_MIN_SPEECH_SECONDS) for the PVC trained on it below.
    import s3fs

    catalog = Catalog(settings)
    target = catalog.create_dataset("uploads")
    bucket = served["bucket"]
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint})
    fs.mkdir(bucket)
    take = tmp_path / "take 1.wav"
    synthetic.speech_file(take, synthetic.corpus(40))
    key = f"uploads/{target.id}/take 1.wav"
    fs.put(str(take), f"{bucket}/{key}")
    notification = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket},
                    "object": {"key": key.replace(" ", "+"), "size": take.stat().st_size},
                },
            }
        ]
    }
    url = f"{served['api_url']}/bucket-events"
    assert httpx.post(url, json=notification, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.post(url, json=notification).status_code == 401
    answer = httpx.post(url, json=notification, headers={"Authorization": f"Bearer {SECRET}"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["datasets"] == {target.id: [f"s3://{bucket}/{key}"]}

    deployments = api.deployments()
    ingest = _wait(
        "a completed ingest-upload run",
        lambda: api.finished(deployments["ingest-files/ingest-upload"]["id"], dataset_id=target.id),
        180,
    )
    assert ingest["parameters"]["sources"] == [f"s3://{bucket}/{key}"]
    assert [f.original_name for f in catalog.files(target.id)] == ["take 1.wav"]
    _wait(
        "a completed prepare run of that dataset",
        lambda: api.finished(deployments["prepare-dataset/prepare-dataset"]["id"], dataset_id=target.id),
        240,
    )
    assert catalog.latest_run(target.id) is not None

    # Training through the API: 202 with a flow run id at once; the served deployment runs it.
    from provoice.accounts import create_api_key

    BaseModelRegistry(settings).create_random("tiny-base", tiny=True)
    _, key = create_api_key(catalog, default_account(catalog).id)
    grant(catalog, default_account(catalog).id, PVC_TRAINING_CREDITS)
    fresh = create_pvc(catalog, default_account(catalog).id, target.id, "Served", "tiny-base", settings=settings)
    answer = httpx.post(
        f"{served['api_url']}/fine-tunes/{fresh.id}/train",
        json={"max_steps": 2},
        headers={"X-API-Key": key},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "queued" and answer.json()["flow_run_id"]
    run_id, seen = answer.json()["flow_run_id"], []

    def finished_training():
        status = httpx.get(f"{served['api_url']}/fine-tunes/{fresh.id}", headers={"X-API-Key": key}).json()["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        return status in ("completed", "failed")

    _wait("the served PVC to finish", finished_training, 420)
    assert seen[0] == "queued" and seen[-1] == "completed" and "training" in seen, seen
    flow_run = _wait(
        "its flow run to end",
        lambda: (lambda r: r if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED") else None)(
            api.http.get(f"/flow_runs/{run_id}").json()
        ),
        120,
    )
    assert flow_run["deployment_id"] == deployments["pro-voice-clone/pro-voice-clone"]["id"]
    assert flow_run["state_type"] == "COMPLETED"

    # A new base model registered through the CLI emits the event; the trigger starts a retrain of
    # the completed PVC, marked for auto-retrain.
    with catalog.session() as db:
        db.get(Pvc, fresh.id).auto_retrain = True
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "interfaces.cli",
            "base-model",
            "create-random",
            "--id",
            "tiny-base-2",
            "--seed",
            "1",
            "--json",
        ],
        env={**served["env"], "PREFECT_API_URL": api.url},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["created"] is True
    run = _wait("a completed retrain run", lambda: api.finished(retrain["id"], base_model_id="tiny-base-2"), 420)
    assert run["parameters"] == {"base_model_id": "tiny-base-2"}
    from provoice.pvc.retrain import decisions

    decided = decisions(Catalog(settings), fresh.id)
    assert [(d.base_model_id, d.decision) for d in decided][-1][0] == "tiny-base-2"
    assert decided[-1].decision in ("promoted", "kept") and decided[-1].reason

    # Ctrl-C stops the API and the served deployments; the home's local Prefect server stays for
    # the next command, and `provoice server stop` stops it.
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    assert not _get(f"{served['api_url']}/openapi.json")
    assert _get(f"{api.url}/health")
    assert not (settings.home / "serve.json").exists()

    # A `provoice serve` killed with SIGKILL leaves nothing running: its watchdog stops the children.
    again = subprocess.Popen(
        [sys.executable, "-m", "interfaces.cli", "serve", "--api-port", str(served["api_port"])],
        env=served["env"],
        cwd=tmp_path,
    )
    _wait("the ProVoice API again", lambda: _get(f"{served['api_url']}/openapi.json"), 120)
    groups = json.loads((settings.home / "serve.json").read_text())["groups"]
    again.kill()
    again.wait(10)
    from deployments.local_server import alive

    _wait("the children of a killed serve to stop", lambda: not any(alive(g) for g in groups), 60)
    assert not _get(f"{served['api_url']}/openapi.json")

    stopped = subprocess.run(
        [sys.executable, "-m", "interfaces.cli", "server", "stop", "--json"],
        env=served["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stopped.returncode == 0, stopped.stderr
    assert not _get(f"{api.url}/health")
    assert served["local"].record() is None
