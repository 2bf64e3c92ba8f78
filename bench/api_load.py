"""API load while a PVC trains, on the one-machine cluster, with the catalog on SQLite and on PostgreSQL.

For each catalog the cluster of `make cluster` starts (`deployments.local_cluster`: PostgreSQL for
Prefect, moto's S3, the Prefect server, the API, a `cpu` and a `gpu` process worker). A dataset of
generated speech is uploaded through the API and a first PVC (a tiny random base, 2 steps) trains to
give real voices; a second PVC then trains on the `gpu` worker while `--clients` loopback clients
drive the API for `--seconds`: whole and streamed speech, uploads and reads. Recorded: requests per
second, p50/p95 time to first audio, answers by status, and the ledger afterwards (speech charges
equal 1.5 credits for each character delivered, no speech hold left, every accepted upload listed).
`--json` prints the figures; `--update-docs` writes a dated section into docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import code_version, free_port, log, machine, machine_line, write_sections

TEXTS = ["The lantern glowed softly in the harvest night.", "A velvet curtain fell across the quiet stage."]
KINDS = ("tts whole", "tts stream", "upload", "read")


def _wait(what: str, probe, timeout_s: float, every_s: float = 1.0):
    deadline = time.monotonic() + timeout_s
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)
    return value


def _pvc(http, pvc_id: str) -> dict:
    return http.get(f"/fine-tunes/{pvc_id}").json()


def prepare(cluster, work: Path) -> dict:
    """An account, real voices from a first PVC, and a second PVC training; what the load needs."""
    import httpx

    from provoice import synthetic
    from provoice.accounts import create_account, create_api_key
    from provoice.catalog import Catalog
    from provoice.credits import PVC_TRAINING_CREDITS, grant
    from provoice.settings import Settings
    from provoice.voice_models.registry import BaseModelRegistry

    for key, value in cluster.env_for("bench").items():
        if key.startswith(("PROVOICE_", "AWS_")):
            os.environ[key] = value
    settings = Settings()
    catalog = Catalog(settings)
    BaseModelRegistry(settings, catalog).create_random("tiny-base", tiny=True)
    account = create_account(catalog, "load")
    _, key = create_api_key(catalog, account.id)
    grant(catalog, account.id, 3 * PVC_TRAINING_CREDITS)
    http = httpx.Client(base_url=cluster.api_url, headers={"X-API-Key": key}, timeout=120)
    ds = http.post("/datasets", json={"name": "narrator"}).json()
    take = synthetic.speech_file(work / "take.wav", synthetic.corpus(24))
    with open(take, "rb") as f:
        http.post(f"/datasets/{ds['id']}/files", files=[("files", ("take.wav", f, "audio/wav"))]).raise_for_status()
    log("first PVC: preparing and training 2 steps for its voices")
    first = http.post("/fine-tunes", json={"dataset_id": ds["id"], "name": "Voices"}).json()
    _wait("the dataset to be prepared", lambda: http.get(f"/datasets/{ds['id']}").json()["latest_preparation"], 600)
    http.post(f"/fine-tunes/{first['id']}/train", json={"max_steps": 2}).raise_for_status()
    done = _wait(
        "the first PVC", lambda: (p := _pvc(http, first["id"]))["status"] in ("completed", "failed") and p, 900
    )
    if done["status"] != "completed":
        raise RuntimeError(f"the first PVC failed: {done['reason']}")
    voice = next(v for v in http.get("/voices").json() if v["model_id"] == done["model_id"])
    second = http.post("/fine-tunes", json={"dataset_id": ds["id"], "name": "Training"}).json()
    http.post(f"/fine-tunes/{second['id']}/train", json={"max_steps": 100_000}).raise_for_status()
    _wait("the second PVC to train", lambda: _pvc(http, second["id"])["status"] == "training", 600)
    uploads = http.post("/datasets", json={"name": "uploads"}).json()
    clip = work / "clip.wav"
    synthetic.speech_file(clip, synthetic.corpus(1))
    return {
        "catalog": catalog,
        "account": account.id,
        "key": key,
        "voice": voice,
        "training": second["id"],
        "uploads": uploads["id"],
        "clip": clip.read_bytes(),
    }


def drive(url: str, ctx: dict, clients: int, seconds: float) -> dict:
    """`clients` threads, each cycling through KINDS until the time is up."""
    import httpx

    stop = threading.Event()
    lock = threading.Lock()
    statuses: dict[str, Counter] = {k: Counter() for k in KINDS}
    first_audio: list[float] = []
    delivered: list[str] = []
    uploaded: list[str] = []
    body = {"model_id": ctx["voice"]["model_id"], "voice_id": ctx["voice"]["id"]}

    def one(http, kind: str, n: int) -> int:
        if kind.startswith("tts"):
            text = TEXTS[n % len(TEXTS)]
            start = time.perf_counter()
            first = None
            with http.stream("POST", "/tts", json={**body, "text": text, "stream": kind == "tts stream"}) as r:
                for chunk in r.iter_raw():
                    if first is None and chunk and r.status_code == 200:
                        first = time.perf_counter() - start
            if r.status_code == 200:
                with lock:
                    first_audio.append(first or 0.0)
                    delivered.append(text)
            return r.status_code
        if kind == "upload":
            name = f"clip-{threading.get_ident()}-{n}.wav"
            data = ctx["clip"][:-8] + n.to_bytes(8, "little")  # the last 4 samples differ: not a duplicate
            r = http.post(f"/datasets/{ctx['uploads']}/files", files=[("files", (name, data, "audio/wav"))])
            if r.status_code == 201:
                with lock:
                    uploaded.append(name)
            return r.status_code
        for path in ("/credits/balance", f"/fine-tunes/{ctx['training']}", "/voices"):
            r = http.get(path)
            if r.status_code != 200:
                return r.status_code
        return r.status_code

    def client(i: int) -> None:
        with httpx.Client(base_url=url, headers={"X-API-Key": ctx["key"]}, timeout=120) as http:
            for n in itertools.count(i):
                if stop.is_set():
                    return
                kind = KINDS[n % len(KINDS)]
                try:
                    status = one(http, kind, n)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                with lock:
                    statuses[kind][status] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(300)
    elapsed = time.perf_counter() - start
    total = sum(sum(c.values()) for c in statuses.values())
    quantiles = statistics.quantiles(first_audio, n=20) if len(first_audio) >= 2 else [float("nan")] * 19
    return {
        "seconds": round(elapsed, 1),
        "requests": total,
        "requests_per_s": round(total / elapsed, 2),
        "first_audio_p50_s": round(statistics.median(first_audio), 3) if first_audio else None,
        "first_audio_p95_s": round(quantiles[18], 3),
        "statuses": {k: {str(s): n for s, n in c.items()} for k, c in statuses.items()},
        "delivered": delivered,
        "uploaded": uploaded,
    }


def ledger(cluster, ctx: dict, load: dict, since) -> dict:
    """Charges against what was delivered, holds left, uploads listed, the training PVC untouched."""
    import httpx

    from provoice.credits import TTS_CREDITS_PER_CHARACTER, history, holds

    entries = [e for e in history(ctx["catalog"], ctx["account"]) if e.created_at >= since and e.amount < 0]
    charged = -sum((e.credits for e in entries), Decimal(0))
    expected = sum((TTS_CREDITS_PER_CHARACTER * len(t) for t in load["delivered"]), Decimal(0))
    speech_holds = [h for h in holds(ctx["catalog"], ctx["account"], "held") if h.kind == "tts"]
    http = httpx.Client(base_url=cluster.api_url, headers={"X-API-Key": ctx["key"]}, timeout=60)
    listed = {f["name"] for f in http.get(f"/datasets/{ctx['uploads']}").json()["files"]}
    pvc = http.get(f"/fine-tunes/{ctx['training']}").json()
    keys = [e.idempotency_key for e in entries if e.idempotency_key]
    return {
        "charged_credits": str(charged),
        "delivered_credits": str(expected),
        "exact": charged == expected,
        "speech_holds_left": len(speech_holds),
        "uploads_lost": sorted(set(load["uploaded"]) - listed),
        "double_charges": len(keys) - len(set(keys)),
        "training_pvc_status": pvc["status"],
    }


def measure(catalog: str, clients: int, seconds: float) -> dict:
    from provoice.catalog.models import utcnow

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from deployments.local_cluster import LocalCluster

    work = Path(tempfile.mkdtemp(prefix=f"provoice-load-{catalog}-"))
    extra = {
        "PROVOICE_REQUIRE_CONSENT": "false",
        "PROVOICE_MIN_SPEECH_SECONDS": "20",
        "PREFECT_LOGGING_LEVEL": "INFO",
        # A tiny random base: its scores mean nothing, so score it quickly (as the tests do).
        "PROVOICE_EVAL_SEEDS": "1",
        "PROVOICE_EVAL_SENTENCES": "4",
        "PROVOICE_TRAIN_VALIDATION_SENTENCES": "3",
    }
    started = time.perf_counter()
    with LocalCluster(work, free_port(), extra_env=extra, say=log, catalog=catalog) as cluster:
        log(f"cluster up in {time.perf_counter() - started:.0f} s (catalog on {catalog})")
        ctx = prepare(cluster, work)
        since = utcnow()
        log(f"driving the API from {clients} clients for {seconds:.0f} s while PVC {ctx['training']} trains")
        load = drive(cluster.api_url, ctx, clients, seconds)
        checks = ledger(cluster, ctx, load, since)
    five_hundreds = sum(n for c in load["statuses"].values() for s, n in c.items() if s.startswith("5"))
    return {
        "catalog": catalog,
        "clients": clients,
        **{k: v for k, v in load.items() if k not in ("delivered", "uploaded")},
        "speech_delivered": len(load["delivered"]),
        "uploads_accepted": len(load["uploaded"]),
        "responses_5xx": five_hundreds,
        "ledger": checks,
    }


def markdown(results: list[dict], m: dict, command: str) -> str:
    lines = [
        f"### API under load while a PVC trains ({date.today().isoformat()})",
        "",
        f"{machine_line(m)}",
        f"- command: `{command}`; code: {code_version()}",
        "- the one-machine cluster (`make cluster`): API, `cpu` and `gpu` process workers, Prefect on "
        "PostgreSQL, blobs on moto's S3; a tiny random base; every client cycles through whole speech, "
        "streamed speech, an upload and three reads; a second PVC trains on the `gpu` worker throughout",
        "",
        "| catalog | clients | s | requests | req/s | first audio p50 / p95 (s) | 5xx | speech | uploads | "
        "ledger exact | speech holds left | uploads lost | double charges |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        led = r["ledger"]
        lines.append(
            f"| {r['catalog']} | {r['clients']} | {r['seconds']} | {r['requests']} | {r['requests_per_s']} | "
            f"{r['first_audio_p50_s']} / {r['first_audio_p95_s']} | {r['responses_5xx']} | {r['speech_delivered']} | "
            f"{r['uploads_accepted']} | {led['exact']} | {led['speech_holds_left']} | {len(led['uploads_lost'])} | "
            f"{led['double_charges']} |"
        )
    lines += ["", "Answers by kind and status:", ""]
    for r in results:
        by = "; ".join(f"{k}: {', '.join(f'{s} × {n}' for s, n in c.items())}" for k, c in r["statuses"].items())
        lines.append(f"- {r['catalog']}: {by}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--update-docs", action="store_true")
    args = ap.parse_args()
    m = machine()
    catalogs = ("sqlite", "postgresql") if args.catalog == "both" else (args.catalog,)
    results = [measure(c, args.clients, args.seconds) for c in catalogs]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(markdown(results, m, "python bench/api_load.py"))
    if args.update_docs:
        command = (
            f"python bench/api_load.py --catalog {args.catalog} --clients {args.clients} --seconds {args.seconds:g} "
            "--update-docs"
        )
        write_sections({"api-load": markdown(results, m, command)})
    bad = [r for r in results if r["responses_5xx"] or not r["ledger"]["exact"] or r["ledger"]["uploads_lost"]]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
