"""Does preparation scale out on Dask, and what does Prefect cost per file?

(a) Runners: the same upload prepared on the thread pool, on a local Dask cluster of 1 and of 2
worker processes (`PROVOICE_DASK_LOCAL_WORKERS`, a cluster per flow run), and on a standing
cluster reached by `PROVOICE_DASK_ADDRESS` (2 workers of 1 thread; 1 worker of 2 threads; 2
workers with `PROVOICE_ASR_CPU_THREADS=1`, one Whisper thread each). Each runner runs in a fresh
process, `--repeats` times, each time into a fresh ProVoice home: the first run is cold, the
fastest of the others is the warm figure (the machine is shared). Every run must produce the
same manifest.
(b) Overhead: 10, 100 and 1000 distinct ~2 s clips prepared on one task thread, so that the flow's
wall time minus the summed run time of its task runs is what Prefect and the flow's bookkeeping
add. The largest size is run again on concurrent runners (`--stress-runners`, the default thread
pool and a 2-worker local cluster) to load the database harder. Every "database is locked" in the
server's and the flows' output is counted, and every task run must end Completed.

Everything runs against a real `prefect server start` (SQLite, temporary PREFECT_HOME, free port),
as a deployment would, not the flow's temporary in-process server.

    python bench/prepare_scaling.py --update-docs                   # full: 10 min, 10/100/1000 files
    python bench/prepare_scaling.py --minutes 2 --files 10 --json   # quick check
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    DOCS,
    ROOT,
    bench_work,
    ingest,
    log,
    prefect_server,
    run_info,
    write_sections,
)
from prepare_throughput import PIPELINE_CODE, make_files, wer

RUNNERS = {  # environment of the flow's process
    "threads": {},
    "dask-local-1": {"PROVOICE_DASK_LOCAL_WORKERS": "1"},
    "dask-local-2": {"PROVOICE_DASK_LOCAL_WORKERS": "2"},
    "dask-scheduler-2": {},
    "dask-scheduler-1x2": {},
    "dask-scheduler-2-asr1": {"PROVOICE_ASR_CPU_THREADS": "1"},  # tuning: one Whisper thread a worker
}
STANDING = {  # the child starts these clusters itself and sets PROVOICE_DASK_ADDRESS
    "dask-scheduler-2": {"n_workers": 2, "threads_per_worker": 1},
    "dask-scheduler-1x2": {"n_workers": 1, "threads_per_worker": 2},
    "dask-scheduler-2-asr1": {"n_workers": 2, "threads_per_worker": 1},
}
LOCKED = re.compile(r"database is locked", re.IGNORECASE)


def child_env(api_url: str, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVOICE_")}
    env.update(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(work / "prefect-client"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        PROVOICE_MIN_SPEECH_SECONDS="60",
    )
    return env


def run_child(args: list[str], env: dict[str, str], output: Path) -> dict:
    """Run this script as a child; its output goes to `output` (scanned for lock errors later)."""
    result = output.with_suffix(".json")
    with output.open("wb") as out:
        code = subprocess.run(
            [sys.executable, __file__, "--_child", *args, str(result)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        ).returncode
    if code != 0:
        raise RuntimeError(f"child {args[0]} failed with exit code {code}; see {output}")
    return json.loads(result.read_text())


def count_locked(path: Path, start: int = 0) -> tuple[int, int]:
    """'database is locked' lines in a log from byte `start` on, and the log's size."""
    data = path.read_bytes()
    return sum(1 for line in data[start:].decode(errors="replace").splitlines() if LOCKED.search(line)), len(data)


# ---- children ---------------------------------------------------------------------------------


def manifest_view(dataset_id: str, summary: dict) -> tuple[str, dict[str, str]]:
    """A digest of the manifest with ids and storage paths made neutral, and the kept text per file."""
    from provoice.catalog import Catalog
    from provoice.dataset.outputs import read_manifest
    from provoice.settings import Settings
    from provoice.storage import Storage

    settings = Settings()
    storage = Storage.from_settings(settings)
    names = {f.id: f.original_name for f in Catalog(settings).files(dataset_id)}
    rows = read_manifest(storage, summary["manifest_uri"])
    text = json.dumps(rows, sort_keys=True).replace(settings.storage_uri, "<store>")
    for file_id, name in names.items():
        text = text.replace(file_id, name)
    kept = collections.defaultdict(list)
    for r in rows:
        kept[names[r["file_id"]]].append((r["start"], r["text"]))
    return (
        hashlib.sha256(text.encode()).hexdigest()[:16],
        {n: " ".join(t for _, t in sorted(kept.get(n, []))) for n in names.values()},
    )


def model_loads() -> tuple[int, int]:
    """Whisper and speaker-encoder loads in this process (the caches' misses)."""
    from provoice.asr.whisper import load_model
    from provoice.quality.speaker import load_encoder

    return load_model.cache.loads, load_encoder.cache.loads


def child_runner(spec: str, repeats: int, work: Path, src: Path, result: Path) -> None:
    from flows.prepare import local_cluster, prepare_flow_for
    from provoice.settings import Settings

    os.environ.update(RUNNERS[spec])
    cluster, out = None, {"runs": []}
    t0 = time.perf_counter()
    if spec in STANDING:
        cluster = local_cluster(**STANDING[spec], processes=True, dashboard_address=None)
        os.environ["PROVOICE_DASK_ADDRESS"] = cluster.scheduler_address
        out["cluster_start_s"] = round(time.perf_counter() - t0, 2)
    try:
        for k in range(repeats):
            os.environ["PROVOICE_HOME"] = str(work / f"{spec}-{k}")
            dataset_id = ingest(src)
            flow = prepare_flow_for(Settings())
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            summary = flow(dataset_id)
            wall = time.perf_counter() - t0
            digest, kept = manifest_view(dataset_id, summary)
            out["runs"].append(
                {
                    "wall_s": round(wall, 2),
                    "digest": digest,
                    "kept": kept,
                    "accepted_seconds": summary["accepted_seconds"],
                    "load_1min": round(load, 2),
                }
            )
        if cluster is not None:
            from distributed import Client

            with Client(cluster) as client:
                out["model_loads_per_process"] = sorted(client.run(model_loads).values())
        elif spec == "threads":
            out["model_loads_per_process"] = [model_loads()]
    finally:
        if cluster is not None:
            cluster.close()
    result.write_text(json.dumps(out))


def phrases() -> list[str]:
    """Half sentences: about 2 s of espeak speech each."""
    from provoice.synthetic import SENTENCES

    out = []
    for s in SENTENCES:
        words = s.rstrip(".").split()
        out += [" ".join(words[: len(words) // 2]) + ".", " ".join(words[len(words) // 2 :]) + "."]
    return out


def make_clips(folder: Path, n: int) -> float:
    """`n` distinct clips: espeak phrases, each copy with its own inaudible dither (-80 dBFS) so that
    no two files share a sha256 (ingest would reject them as duplicates). Returns audio seconds."""
    import numpy as np

    from provoice.synthetic import speak

    folder.mkdir(parents=True, exist_ok=True)
    bases = []
    for i, text in enumerate(phrases()):
        wav = speak(text, folder / f"base{i}.tmp.wav")
        with wave.open(str(wav), "rb") as w:
            rate, x = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int32)
        bases.append(x)
        wav.unlink()
    total = 0.0
    for i in range(n):
        x = bases[i % len(bases)]
        dither = np.random.default_rng(i).integers(-3, 4, x.size)
        with wave.open(str(folder / f"clip{i:04d}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(np.clip(x + dither, -32768, 32767).astype("<i2").tobytes())
        total += x.size / rate
    return total


def recorded_task_runs(flow_run_id: str, settle_s: float = 5.0, limit_s: float = 300.0) -> list:
    """All task runs of a flow run once the server has recorded them (they arrive as events,
    written in batches): poll until every one is final and the count has not moved for `settle_s`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    flt = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    deadline, last, stable_since = time.monotonic() + limit_s, -1, time.monotonic()
    with get_client(sync_client=True) as client:
        while True:
            runs, offset = [], 0
            while True:
                page = client.read_task_runs(
                    flow_run_filter=flt, sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200, offset=offset
                )
                runs += page
                offset += len(page)
                if len(page) < 200:
                    break
            final = all(r.state is not None and r.state.is_final() for r in runs)
            if len(runs) != last:
                last, stable_since = len(runs), time.monotonic()
            if (final and time.monotonic() - stable_since >= settle_s) or time.monotonic() > deadline:
                return runs
            time.sleep(1.0)


def child_overhead(n: str, spec: str, work: Path, clips: Path, result: Path) -> None:
    """`spec` "serial" runs one task thread; any runner name runs that runner."""
    from flows.prepare import prepare_flow_for
    from provoice.settings import Settings

    os.environ["PROVOICE_HOME"] = str(work / f"overhead-{n}-{spec}")
    os.environ.update({"PROVOICE_TASK_WORKERS": "1"} if spec == "serial" else RUNNERS[spec])
    t0 = time.perf_counter()
    dataset_id = ingest(clips)
    ingest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    state = prepare_flow_for(Settings())(dataset_id, return_state=True)
    wall = time.perf_counter() - t0
    summary = state.result()
    t0 = time.perf_counter()
    runs = recorded_task_runs(str(state.state_details.flow_run_id))
    step_s = sum(r.total_run_time.total_seconds() for r in runs)
    result.write_text(
        json.dumps(
            {
                "files": int(n),
                "runner": spec,
                "ingest_s": round(ingest_s, 2),
                "flow_wall_s": round(wall, 2),
                "task_runs": len(runs),
                "task_run_states": dict(collections.Counter(r.state_type.value for r in runs)),
                "task_runs_retried": sum(1 for r in runs if r.run_count > 1),
                "summed_step_s": round(step_s, 2),
                "overhead_s": round(wall - step_s, 2),
                "overhead_per_file_s": round((wall - step_s) / int(n), 4),
                "overhead_per_task_run_s": round((wall - step_s) / max(len(runs), 1), 4),
                "accepted_files": sum(1 for f in summary["files"] if f["status"] == "accepted"),
                "accepted_seconds": summary["accepted_seconds"],
                "recording_wait_s": round(time.perf_counter() - t0, 1),
            }
        )
    )


# ---- parent -----------------------------------------------------------------------------------


def compare_runners(
    minutes: float, runners: list[str], repeats: int, work: Path, api_url: str, server_log: Path
) -> dict:
    src = work / "src"
    texts, audio_s = make_files(src, minutes)
    log(f"generated {len(texts)} files, {audio_s:.0f} s of speech")
    names = sorted(texts)
    out = {}
    for spec in runners:
        log(f"runner {spec} ...")
        _, start = count_locked(server_log)
        r = run_child(
            ["runner", f"{spec}:{repeats}", str(work), str(src)], child_env(api_url, work), work / f"{spec}.log"
        )
        locked_server, _ = count_locked(server_log, start)
        locked_flow, _ = count_locked(work / f"{spec}.log")
        cold, *others = r["runs"]
        warm = min(others, key=lambda run: run["wall_s"])
        out[spec] = {
            "cold_wall_s": cold["wall_s"],
            "warm_wall_s": warm["wall_s"],
            "all_wall_s": [run["wall_s"] for run in r["runs"]],
            "load_1min_at_runs": [run["load_1min"] for run in r["runs"]],
            "cold_audio_s_per_s": round(audio_s / cold["wall_s"], 2),
            "warm_audio_s_per_s": round(audio_s / warm["wall_s"], 2),
            "digests": sorted({run["digest"] for run in r["runs"]}),
            "wer": round(wer([texts[n] for n in names], [warm["kept"].get(n, "") for n in names]), 4),
            "accepted_seconds": warm["accepted_seconds"],
            "model_loads_per_process": r.get("model_loads_per_process"),
            "cluster_start_s": r.get("cluster_start_s"),
            "database_locked": locked_server + locked_flow,
        }
        log(f"runner {spec}: walls {out[spec]['all_wall_s']} s at load {out[spec]['load_1min_at_runs']}")
    base = out.get("threads")
    for v in out.values():
        if base:
            v["cold_ratio_vs_threads"] = round(v["cold_audio_s_per_s"] / base["cold_audio_s_per_s"], 3)
            v["warm_ratio_vs_threads"] = round(v["warm_audio_s_per_s"] / base["warm_audio_s_per_s"], 3)
    digests = {d for v in out.values() for d in v["digests"]}
    return {
        "minutes": minutes,
        "files": len(names),
        "audio_seconds": round(audio_s, 1),
        "repeats": repeats,
        "runners": out,
        "identical_manifests": len(digests) == 1,
    }


def measure_overhead(sizes: list[int], stress: list[str], work: Path, api_url: str, server_log: Path) -> list[dict]:
    out = []
    for n in sizes:
        clips = work / f"clips-{n}"
        audio_s = make_clips(clips, n)
        for spec in ["serial", *(stress if n == max(sizes) else [])]:
            log(f"overhead: {n} clips, {audio_s:.0f} s of speech, {spec} ...")
            _, start = count_locked(server_log)
            output = work / f"overhead-{n}-{spec}.log"
            r = run_child(["overhead", f"{n}:{spec}", str(work), str(clips)], child_env(api_url, work), output)
            locked_server, _ = count_locked(server_log, start)
            locked_flow, _ = count_locked(output)
            r.update(
                audio_seconds=round(audio_s, 1), database_locked_server=locked_server, database_locked_flow=locked_flow
            )
            out.append(r)
            log(
                f"overhead {n} {spec}: wall {r['flow_wall_s']} s, steps {r['summed_step_s']} s, "
                f"states {r['task_run_states']}, locked {locked_server + locked_flow}"
            )
        shutil.rmtree(clips, ignore_errors=True)
    return out


def sections(r: dict) -> dict[str, str]:
    """One dated docs section per part that ran, keyed by its marker."""
    m = r["machine"]
    head = (
        f"- machine: `{m['arch']}`, {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; "
        f"load average at start {m['load_avg_at_start']} (shared machine)\n"
        f"- command: `{r['command']}`\n- code: {r['code']}\n- date: {r['date']}\n"
        "- Prefect: a real `prefect server start` (SQLite, temporary PREFECT_HOME, free port)\n"
    )
    out = {}
    if r.get("runners"):
        c = r["runners"]
        text = (
            f"### Scaling: thread pool and Dask runners, {c['minutes']:g} min in {c['files']} files "
            f"— {r['date']}\n\n{head}\n"
            f"Audio s / wall s and the ratio against the thread pool; cold = the first run in a fresh "
            f"process, warm = the fastest of the next {c['repeats'] - 1}:\n\n"
            "| runner | cold wall s | cold audio s/s | cold ratio | warm wall s | warm audio s/s "
            "| warm ratio | WER | all walls s (1-min load at start) | model loads per process |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n"
        )
        for name, v in c["runners"].items():
            text += (
                f"| {name} | {v['cold_wall_s']} | {v['cold_audio_s_per_s']} | "
                f"{v.get('cold_ratio_vs_threads', '–')}x | {v['warm_wall_s']} | "
                f"{v['warm_audio_s_per_s']} | {v.get('warm_ratio_vs_threads', '–')}x | "
                f"{v['wer']:.2%} | "
                + ", ".join(f"{w} ({ld})" for w, ld in zip(v["all_wall_s"], v["load_1min_at_runs"]))
                + f" | {v['model_loads_per_process'] or '–'} |\n"
            )
        locked = sum(v["database_locked"] for v in c["runners"].values())
        text += (
            f"\n- manifests identical across runners and runs: "
            f'**{"yes" if c["identical_manifests"] else "NO"}**; "database is locked": {locked}\n'
        )
        starts = {n: v["cluster_start_s"] for n, v in c["runners"].items() if v.get("cluster_start_s") is not None}
        if starts:
            text += (
                "- standing clusters started in "
                + ", ".join(f"{s} s ({n})" for n, s in starts.items())
                + ", outside the wall times\n"
            )
        out[f"scaling-runners:{r['date']}"] = text
    if r.get("overhead"):
        serial = [o for o in r["overhead"] if o.get("runner", "serial") == "serial"]
        text = (
            f"### Prefect overhead per file, {'/'.join(str(o['files']) for o in serial)} files "
            f"— {r['date']}\n\n{head}\n"
            "~2 s clips. On one task thread (`serial`, `PROVOICE_TASK_WORKERS=1`) overhead = flow wall "
            "time − summed run time of its task runs; on concurrent runners the task runs overlap, so "
            "only the wall time and the database errors count there:\n\n"
            "| files | runner | ingest s | prepare wall s | Σ task run s | overhead s | per file s | "
            'per task run s | task runs (states) | retried | "database is locked" server / flow |\n'
            "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---|\n"
        )
        for o in r["overhead"]:
            states = ", ".join(f"{k.lower()} {v}" for k, v in sorted(o["task_run_states"].items()))
            overlap = o.get("runner", "serial") != "serial"
            text += (
                f"| {o['files']} | {o.get('runner', 'serial')} | {o['ingest_s']} | {o['flow_wall_s']} | "
                f"{o['summed_step_s']} | "
                + (
                    "– | – | – | "
                    if overlap
                    else f"{o['overhead_s']} | {o['overhead_per_file_s']} | {o['overhead_per_task_run_s']} | "
                )
                + f"{o['task_runs']} ({states}) | {o['task_runs_retried']} | "
                f"{o['database_locked_server']} / {o['database_locked_flow']} |\n"
            )
        out[f"scaling-overhead:{r['date']}"] = text
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="speech for the runner comparison (0: skip)")
    p.add_argument("--runners", default=",".join(RUNNERS), help=f"comma-separated, of {', '.join(RUNNERS)}")
    p.add_argument("--repeats", type=int, default=3, help="runs per runner: one cold, the fastest other is warm")
    p.add_argument("--files", default="10,100,1000", help="clip counts for the overhead runs ('': skip)")
    p.add_argument(
        "--stress-runners",
        default="threads,dask-local-2",
        help="runners that prepare the largest clip count again ('': none)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--update-docs", action="store_true", help=f"write a dated section to {DOCS.name}")
    p.add_argument("--keep", action="store_true", help="keep the generated data and logs under .bench/")
    p.add_argument("--_child", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        kind, a, work, b, result = args._child
        if kind == "runner":
            spec, repeats = a.split(":")
            child_runner(spec, int(repeats), Path(work), Path(b), Path(result))
        else:
            n, spec = a.split(":")
            child_overhead(n, spec, Path(work), Path(b), Path(result))
        return 0
    runners = [r for r in args.runners.split(",") if r]
    stress = [r for r in args.stress_runners.split(",") if r]
    unknown = set(runners + stress) - set(RUNNERS)
    if unknown:
        p.error(f"unknown runners: {', '.join(sorted(unknown))}")
    if set(stress) & set(STANDING):
        p.error("--stress-runners takes the thread pool and local clusters only")
    sizes = [int(n) for n in args.files.split(",") if n]
    if args.repeats < 2:
        p.error("--repeats must be at least 2 (one cold run, one or more warm)")
    result = run_info("prepare_scaling.py", PIPELINE_CODE, argv)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with (
        bench_work("scaling-", args.keep) as work,
        contextlib.redirect_stdout(sys.stderr),
        prefect_server(work) as (api_url, server_log),
    ):
        log(f"prefect server at {api_url}; work in {work}")
        if args.minutes and runners:
            result["runners"] = compare_runners(args.minutes, runners, args.repeats, work, api_url, server_log)
        if sizes:
            result["overhead"] = measure_overhead(sizes, stress, work, api_url, server_log)
        result["database_locked_server_total"], _ = count_locked(server_log)
    if args.update_docs:
        write_sections(sections(result))
    print(json.dumps(result) if args.json else "\n".join(sections(result).values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
