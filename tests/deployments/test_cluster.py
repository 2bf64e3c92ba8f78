"""The served topology on one machine (`deployments.local_cluster`, what `make cluster` runs), started
once for this file: PostgreSQL, moto's S3 server, a Prefect server on PostgreSQL, the API and two
process workers (pools `cpu` and `gpu`). A PVC goes end to end through the HTTP API while faults are
injected: the Prefect server restarts during a preparation, the training worker is SIGKILLed
mid-training (the lease fails the PVC, the retry resumes from its checkpoint on the restarted
worker), the database stops and then crashes under API traffic, and the blob store fills up. The
ledger is exact after each, and every failure reaches the owner's webhook exactly once."""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from deployments.local_cluster import LocalCluster
from provoice import synthetic
from provoice.accounts import create_account, create_api_key
from provoice.catalog import Catalog
from provoice.credits import PVC_TRAINING_CREDITS, charged_credits, grant, history, holds
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.voice_models.registry import BaseModelRegistry
from tests.conftest import QUICK_SCORING, _free_port
from tests.http_receiver import receiver
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

LEASE_S = 15
TRAIN_STEPS = 6
SPEECH_CREDITS = 20_000
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def _wait(what: str, probe, timeout_s: float, every_s: float = 0.5):
    return wait_for(what, probe, timeout_s, every_s)


class Api:
    """The cluster's HTTP API as one account's client."""

    def __init__(self, url: str, key: str):
        self.http = httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60)

    def json(self, method: str, path: str, expect: int = 200, **kwargs):
        answer = self.http.request(method, path, **kwargs)
        assert answer.status_code == expect, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The cluster, the test's own settings (same database and bucket), an API client and the owner's
    webhook receiver."""
    root = tmp_path_factory.mktemp("cluster")
    with receiver() as hooks, pytest.MonkeyPatch.context() as mp:
        extra = {
            "PROVOICE_PVC_LEASE_SECONDS": str(LEASE_S),
            "PROVOICE_REQUIRE_CONSENT": "false",
            "PROVOICE_MIN_SPEECH_SECONDS": "20",
            "PROVOICE_TRAIN_CHECKPOINT_EVERY": "2",
            "PROVOICE_NOTIFY_WEBHOOK_URL": hooks.url,
            "PROVOICE_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
            "PROVOICE_NOTIFY_BACKOFF_S": "0.2",
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PREFECT_LOGGING_LEVEL": "INFO",
            **QUICK_SCORING,
        }
        with LocalCluster(root, _free_port(), extra_env=extra, say=lambda _: None) as running:
            for key, value in running.env_for("test").items():
                if key.startswith(("PROVOICE_", "AWS_")):
                    mp.setenv(key, value)
            settings = Settings()
            catalog = Catalog(settings)
            BaseModelRegistry(settings, catalog).create_random("tiny-base", tiny=True)
            account = create_account(catalog, "cluster test")
            _, key = create_api_key(catalog, account.id)
            grant(catalog, account.id, PVC_TRAINING_CREDITS + SPEECH_CREDITS)
            yield {
                "cluster": running,
                "settings": settings,
                "catalog": catalog,
                "account": account.id,
                "api": Api(running.api_url, key),
                "hooks": hooks,
                "root": root,
                "state": {},
            }


def _prefect_runs(cluster: LocalCluster, deployment: str) -> list[dict]:
    flow, name = deployment.split("/")
    with httpx.Client(base_url=cluster.prefect_api_url, timeout=20) as http:
        rows = http.post(
            "/flow_runs/filter", json={"flows": {"name": {"any_": [flow]}}, "deployments": {"name": {"any_": [name]}}}
        )
        return rows.json() if rows.status_code == 200 else []


def test_pvc_end_to_end_under_faults(cluster, tmp_path):
    c: LocalCluster = cluster["cluster"]
    api: Api = cluster["api"]
    catalog, settings, hooks = cluster["catalog"], cluster["settings"], cluster["hooks"]

    # Upload through the API: the API ingests and emits the event whose trigger starts preparation.
    ds = api.json("POST", "/datasets", 201, json={"name": "narrator"})
    take = synthetic.speech_file(tmp_path / "take.wav", synthetic.corpus(24))
    with open(take, "rb") as f:
        api.json("POST", f"/datasets/{ds['id']}/files", 201, files=[("files", ("take.wav", f, "audio/wav"))])

    # Fault: the Prefect server is killed while the preparation runs, and started again.
    _wait("the triggered preparation to run", lambda: api.json("GET", f"/datasets/{ds['id']}")["preparing"], 180)
    c.stop_part("prefect-server", signal.SIGKILL)
    time.sleep(3)
    c.start_prefect_server()
    prepare_runs = _wait(
        "the preparation run to end (never a silent stuck state)",
        lambda: (lambda rs: rs if rs and all(r["state_type"] in FINAL for r in rs) else None)(
            _prefect_runs(c, "prepare-dataset/prepare-dataset")
        ),
        240,
        2,
    )
    cluster["state"]["prepare_states"] = [(r["state_type"], r["state"]["message"]) for r in prepare_runs]
    view = api.json("GET", f"/datasets/{ds['id']}")
    assert view["preparing"] is None, view
    if prepare_runs[-1]["state_type"] != "COMPLETED":
        assert "infrastructure" in (prepare_runs[-1]["state"]["message"] or "").lower() or prepare_runs[-1][
            "state_type"
        ] in ("CRASHED", "FAILED"), prepare_runs[-1]
        assert not any(f["status"] == "rejected" for f in view["files"]), view["files"]

    # The PVC through the API: queued at once, trained on the gpu pool's worker.
    pvc = api.json("POST", "/fine-tunes", 201, json={"dataset_id": ds["id"], "name": "Narrator"})
    queued = api.json("POST", f"/fine-tunes/{pvc['id']}/train", 202, json={"max_steps": TRAIN_STEPS})
    assert queued["status"] == "queued" and queued["flow_run_id"]
    storage = Storage.from_settings(settings)
    prefix = f"training/{pvc['id']}"

    def checkpoints() -> dict[str, str]:
        """Each stored checkpoint with when it was written."""
        storage.fs.invalidate_cache()
        keys = [k for k in storage.list(prefix) if "/checkpoints/" in k and k.endswith(".pt")]
        return {k: str(storage.fs.info(f"{storage.root}/{k}").get("LastModified")) for k in keys}

    # The newest two checkpoints are kept (steps 4 and 6 at the end), so step 4 tells resume from restart.
    resumed_from = f"{prefix}/checkpoints/step-{TRAIN_STEPS - 2:09d}.pt"

    # Fault: the training worker is SIGKILLed (its flow run with it) once a checkpoint is stored.
    first = _wait(f"checkpoint {resumed_from}", lambda: (cp := checkpoints()).get(resumed_from) and cp, 420, 0.2)
    c.stop_part("worker-gpu", signal.SIGKILL)
    killed_at = time.monotonic()
    failed = _wait(
        "the lease to fail the PVC",
        lambda: (lambda p: p if p["status"] == "failed" else None)(api.json("GET", f"/fine-tunes/{pvc['id']}")),
        LEASE_S * 6,
    )
    cluster["state"]["lease_failed_after_s"] = round(time.monotonic() - killed_at, 1)
    assert "worker" in failed["reason"] and "checkpoint" in failed["reason"], failed
    assert not holds(catalog, cluster["account"], "held"), "a failed attempt releases its hold"
    assert charged_credits(catalog, cluster["account"], pvc["id"]) == 0
    c.start_part("worker-gpu")  # the replacement a restart policy starts

    api.json("POST", f"/fine-tunes/{pvc['id']}/retry", 202)
    done = _wait(
        "the retried PVC to finish",
        lambda: (lambda p: p if p["status"] in ("completed", "failed") else None)(
            api.json("GET", f"/fine-tunes/{pvc['id']}")
        ),
        600,
        1,
    )
    assert done["status"] == "completed", done
    after = checkpoints()
    # Resumed, not restarted: the checkpoint written before the kill was not written again.
    assert after.get(resumed_from) == first[resumed_from], (first, after)
    assert f"{prefix}/checkpoints/step-{TRAIN_STEPS:09d}.pt" in after, after

    # The ledger: charged once, no hold left; the voices answer.
    assert charged_credits(catalog, cluster["account"], pvc["id"]) == PVC_TRAINING_CREDITS
    assert not holds(catalog, cluster["account"], "held")
    voices = [v for v in api.json("GET", "/voices") if v["model_id"] == done["model_id"]]
    assert voices, api.json("GET", "/voices")
    cluster["state"]["voice"] = voices[0]
    audio = api.http.post(
        "/tts", json={"model_id": done["model_id"], "voice_id": voices[0]["id"], "text": "Hello there."}
    )
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF", audio.text

    # Exactly one notification per outcome: the reaper's failure, then the completion.
    _wait("the completion webhook", lambda: any(b.get("status") == "completed" for b in hooks.bodies), 30)
    time.sleep(2)
    about = [b for b in hooks.bodies if b.get("pvc_id") == pvc["id"]]
    assert Counter(b["status"] for b in about) == {"failed": 1, "completed": 1}, about
    print("cluster end to end:", cluster["state"])


def test_database_outage_under_traffic(cluster):
    """Readers, writers and speech while PostgreSQL is stopped for a few seconds, twice (shut down, then
    crashed): every answer is a success or a clear 503, nothing half-written or lost (no hold left,
    charges equal the speech delivered)."""
    c: LocalCluster = cluster["cluster"]
    api: Api = cluster["api"]
    catalog, account = cluster["catalog"], cluster["account"]
    voice = cluster["state"].get("voice")
    before = {e.id for e in history(catalog, account)}
    statuses: Counter = Counter()
    spoken: list[str] = []
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=c.api_url, headers=api.http.headers, timeout=30) as http:
            i = 0
            while not stop.is_set():
                i += 1
                if voice and n % 2 == 0:
                    text = f"Outage test {n} {i}."
                    r = http.post("/tts", json={"model_id": voice["model_id"], "voice_id": voice["id"], "text": text})
                    if r.status_code == 200:
                        spoken.append(text)
                elif n % 3 == 1:
                    r = http.post("/datasets", json={"name": f"outage-{n}-{i}"})
                else:
                    r = http.get("/credits/balance")
                statuses[r.status_code] += 1
                time.sleep(0.05)
            # The server charges a whole response once its send returned; closing the connection at
            # once can cancel that (charged nothing, as for a client that left early): wait for it.
            time.sleep(1)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        for crash in (False, True):  # a fast shutdown, then an immediate one (a crash: WAL replayed at start)
            time.sleep(2)
            c.stop_database(crash=crash)
            time.sleep(4)
            c.start_database()
            _wait(
                "answers again",
                lambda: httpx.get(f"{c.api_url}/credits/balance", headers=api.http.headers).is_success,
                30,
            )
        time.sleep(2)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    cluster["state"]["outage_statuses"] = dict(statuses)
    print("database outage:", dict(statuses), "speech delivered:", len(spoken))
    assert statuses[503] > 0, statuses
    assert set(statuses) <= {200, 201, 503}, statuses
    # Speech delivered while the database was down is charged once it is back (its hold until then).
    _wait("the delivered speech to be charged", lambda: not holds(catalog, account, "held"), 60)
    charges = [e for e in history(catalog, account) if e.id not in before and e.amount < 0]
    assert len(charges) == len(spoken), (len(charges), len(spoken))


def test_storage_full(cluster, tmp_path):
    """The API on a blob store with no room left (a 1 MB tmpfs): an upload that does not fit answers
    507 with what to do; the originals already stored stay byte for byte, no partial file is left."""
    from fastapi.testclient import TestClient

    from interfaces.api.app import create_app

    mount = tmp_path / "tiny"
    mount.mkdir()
    import subprocess

    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)]).returncode:
        pytest.skip("no tmpfs mount here (needs root)")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PROVOICE_STORAGE_URI", f"file://{mount}/store")
            settings = Settings()
            client = TestClient(create_app(settings), headers=cluster["api"].http.headers)
            ds = client.post("/datasets", json={"name": "full"}).json()
            small = synthetic.speech_file(tmp_path / "small.wav", synthetic.corpus(2))
            first = client.post(f"/datasets/{ds['id']}/files", files=[("files", ("small.wav", small.read_bytes()))])
            assert first.status_code == 201, first.text
            big = tmp_path / "big.wav"
            synthetic.speech_file(big, synthetic.corpus(40))
            refused = client.post(f"/datasets/{ds['id']}/files", files=[("files", ("big.wav", big.read_bytes()))])
            assert refused.status_code == 507, refused.text
            assert refused.json()["error"] == "StorageFull" and "free space" in refused.json()["detail"]
            files = client.get(f"/datasets/{ds['id']}").json()["files"]
            assert [f["name"] for f in files] == ["small.wav"], files
            stored = [p for p in Path(mount).rglob("*") if p.is_file()]
            assert not [p for p in stored if ".tmp-" in p.name], stored
            digest = hashlib.sha256(small.read_bytes()).hexdigest()
            assert any(hashlib.sha256(p.read_bytes()).hexdigest() == digest for p in stored)
    finally:
        subprocess.run(["umount", str(mount)])
