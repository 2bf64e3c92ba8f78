"""The seed's amount in one go: 3 hours (one 2-hour file among hundreds of short ones) prepared on
this machine, with its throughput, the peak memory of the whole process tree, and a crash halfway.

The speech is espeak-ng's (`provoice.synthetic`): fine for throughput and memory, not for accuracy.
Two thirds of `--hours` is one long mp3; the rest is 10–30 s files cycling wav, mp3, flac, ogg, m4a
and opus. A private Prefect server runs outside the measured tree, as a deployment's does; ingest
runs in a child; `prepare_dataset` runs alone in another child (model loads included), its tree's
RSS sampled every 50 ms. Then the same upload goes into a fresh home, its preparation is killed
with SIGKILL part-way (at `--kill-at` of its steps), and prepared again: every step result written
before the crash must still be the same file afterwards (not redone), and the second run's time is
set against what was left. `--baseline-root` prepares the same upload with another checkout's code
(e.g. `git archive HEAD`) in the same run, so the ratio holds on a shared machine.

    python bench/prepare_seed_scale.py --hours 0.25 --json           # a quick run (about 5 min)
    python bench/prepare_seed_scale.py --update-docs                 # 3 hours (generation is cached)
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DOCS, ROOT, bench_work, log, machine_line, run_info, set_env, write_sections
from prepare_throughput import PIPELINE_CODE, make_long, sample_tree_rss, wav_seconds

SHORT_FORMATS = ["wav", "mp3", "flac", "ogg", "m4a", "opus"]
SHORT_SECONDS = (10.0, 30.0)
TARGET_AUDIO_S_PER_S, TARGET_RSS_GB = 60.0, 1.5
#: The result file each per-file step writes (provoice/dataset/steps.py), and its step.
STEP_FILES = {
    "convert.json": "convert",
    "segments.json": "segment",
    "transcripts.json": "transcribe",
    "quality.json": "quality",
}


def make_sources(folder: Path, hours: float) -> tuple[float, int]:
    """One long mp3 of two thirds of `hours` and short files for the rest; (audio seconds, files).
    Kept in `folder` and reused while its marker names the same hours (generation takes minutes)."""
    marker, files_dir = folder / "sources.json", folder / "files"
    if marker.exists() and json.loads(marker.read_text()).get("hours") == hours:
        known = json.loads(marker.read_text())
        return known["audio_seconds"], known["files"]
    shutil.rmtree(folder, ignore_errors=True)
    files_dir.mkdir(parents=True)
    long_texts, long_s = make_long(files_dir, hours * 60 * 2 / 3)
    short_s = _short_files(files_dir, hours * 3600 / 3)
    files = sum(1 for _ in files_dir.iterdir())
    marker.write_text(json.dumps({"hours": hours, "audio_seconds": long_s + short_s, "files": files}))
    log(f"generated {files} files: {next(iter(long_texts))} ({long_s:.0f} s) and {short_s:.0f} s of short ones")
    return long_s + short_s, files


def _short_files(folder: Path, seconds: float) -> float:
    from concurrent.futures import ThreadPoolExecutor

    from provoice.synthetic import SENTENCES, encode, speak

    rng = random.Random(26)
    jobs, planned, i = [], 0.0, 0
    while planned < seconds:
        length = rng.uniform(*SHORT_SECONDS)
        n = max(2, round(length / 3.6))
        start = rng.randrange(len(SENTENCES))
        text = " ".join(SENTENCES[(start + k) % len(SENTENCES)] for k in range(n))
        jobs.append((i, text, 40 + i % 21, SHORT_FORMATS[i % len(SHORT_FORMATS)]))  # pitch: no two alike
        planned += n * 3.6
        i += 1

    def one(job: tuple[int, str, int, str]) -> float:
        k, text, pitch, fmt = job
        wav = speak(text, folder / f"short{k:04d}.wav", pitch=pitch)
        s = wav_seconds(wav)
        if fmt != "wav":
            encode(wav, wav.with_suffix(f".{fmt}"), fmt)
            wav.unlink()
        return s

    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        return sum(pool.map(one, jobs))


def _child(root: Path, env: dict, *args: str, **popen) -> subprocess.Popen:
    """`prepare_throughput.py --_child ...` of the checkout at `root` (its own code prepares)."""
    cmd = [sys.executable, str(root / "bench" / "prepare_throughput.py"), "--_child", *args]
    return subprocess.Popen(cmd, env=env, cwd=root, stdout=sys.stderr, **popen)


def ingest_child(root: Path, env: dict, work: Path, src: Path) -> str:
    result = work / "ingest.json"
    if _child(root, env, "ingest", str(work), str(src), str(result)).wait() != 0:
        raise RuntimeError("ingest child failed")
    return json.loads(result.read_text())["dataset_id"]


def step_results(work: Path) -> dict[str, int]:
    """Every per-file step result under a home's store, with its modification time."""
    store = work / "home" / "store" / "work"
    return {str(p): p.stat().st_mtime_ns for p in store.rglob("*.json") if p.name in STEP_FILES}


def by_step(paths) -> dict[str, int]:
    counts = collections.Counter(STEP_FILES[Path(p).name] for p in paths)
    return {step: counts.get(step, 0) for step in STEP_FILES.values()}


def measured_prepare(root: Path, env: dict, work: Path, dataset_id: str) -> dict:
    """`prepare_dataset` alone in a child, with the summed RSS of its tree sampled every 50 ms."""
    result, peak, stop = work / "prepare.json", {}, threading.Event()
    t0 = time.perf_counter()
    proc = _child(root, env, "prepare", str(work), dataset_id, str(result))
    sampler = threading.Thread(target=sample_tree_rss, args=(proc.pid, stop, peak), daemon=True)
    sampler.start()
    code = proc.wait()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if code != 0:
        raise RuntimeError(f"prepare child failed with exit code {code}")
    out = json.loads(result.read_text())
    return {
        "process_wall_s": round(wall, 2),
        "prepare_wall_s": round(out["wall_s"], 2),
        "peak_rss_tree_gb": round(peak.get("tree", 0) / 1024**3, 3),
        "peak_processes": peak.get("procs", 0),
        "accepted_seconds": out["accepted_seconds"],
        "segments": out["segments"],
        "rejected_files": out["rejected_files"],
    }


def step_seconds(settle_s: float = 5.0) -> dict[str, dict]:
    """Summed run time of the task runs on the bench's Prefect server, by step, once the server has
    recorded them all (they overlap in time, so these are busy seconds of task threads, not wall)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import TaskRunSort

    last, stable_since = -1, time.monotonic()
    with get_client(sync_client=True) as client:
        while True:
            runs, offset = [], 0
            while True:
                page = client.read_task_runs(sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200, offset=offset)
                runs += page
                offset += len(page)
                if len(page) < 200:
                    break
            if len(runs) != last:
                last, stable_since = len(runs), time.monotonic()
            final = all(r.state is not None and r.state.is_final() for r in runs)
            if final and time.monotonic() - stable_since >= settle_s:
                break
            time.sleep(1.0)
    totals: collections.Counter = collections.Counter()
    counts: collections.Counter = collections.Counter()
    for r in runs:
        step = r.name.split(" ", 1)[0]
        totals[step] += r.total_run_time.total_seconds()
        counts[step] += 1
    return {k: {"task_runs": counts[k], "busy_s": round(v, 1)} for k, v in totals.most_common()}


def crash_and_resume(root: Path, env: dict, work: Path, src: Path, kill_at: float) -> dict:
    """Prepare in a fresh home, SIGKILL the whole child tree once `kill_at` of the run's steps are
    done, prepare again, and check that nothing finished before the crash was computed again."""
    home = {**env, "PROVOICE_HOME": str(work / "home")}
    os.environ["PROVOICE_HOME"] = home["PROVOICE_HOME"]
    dataset_id = ingest_child(root, home, work, src)
    from provoice.catalog import Catalog
    from provoice.settings import Settings

    catalog = Catalog(Settings())
    t0 = time.perf_counter()
    proc = _child(root, home, "prepare", str(work), dataset_id, str(work / "killed.json"), start_new_session=True)
    done = total = 0
    while proc.poll() is None:
        run = catalog.latest_run(dataset_id, status="running")
        if run is not None and run.progress_total:
            done, total = run.progress_done, run.progress_total
            if done >= kill_at * total:
                break
        time.sleep(0.2)
    if proc.poll() is not None:
        raise RuntimeError("the preparation ended before it could be killed; lower --kill-at")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_after = time.perf_counter() - t0
    before = step_results(work)
    log(f"killed after {killed_after:.1f} s at step {done} of {total}: {by_step(before)} step results kept")
    rerun = measured_prepare(root, home, work, dataset_id)
    after = step_results(work)
    redone = sorted(p for p, mtime in before.items() if after.get(p) != mtime)
    new = [p for p in after if p not in before]
    return {
        "killed_after_s": round(killed_after, 2),
        "progress_at_kill": f"{done} of {total}",
        "kept_at_kill": by_step(before),
        "redone_after_crash": len(redone),
        "computed_after_crash": by_step(new),
        "rerun_wall_s": rerun["process_wall_s"],
        "rerun_prepare_wall_s": rerun["prepare_wall_s"],
        "rerun_accepted_seconds": rerun["accepted_seconds"],
    }


def seed_scale(
    hours: float, work: Path, sources: Path, kill_at: float | None, baseline: Path | None, variant: dict[str, str]
) -> dict:
    set_env(work)
    audio_s, files = make_sources(sources, hours)
    sources = sources / "files"
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # outside the measured tree: a deployment runs it elsewhere
    server.start(timeout=180)
    env = {**os.environ, "PREFECT_API_URL": server.api_url}
    out: dict = {"hours": hours, "files": files, "audio_seconds": round(audio_s, 1)}
    try:
        os.environ["PREFECT_API_URL"] = server.api_url
        runs = [("after", ROOT, {})] + ([("before", baseline, {})] if baseline else [])
        runs += [("variant", ROOT, variant)] if variant else []
        for label, root, extra in runs:
            run_work = work / label
            run_work.mkdir()
            run_env = {**env, **extra, "PROVOICE_HOME": str(run_work / "home")}
            dataset_id = ingest_child(root, run_env, run_work, sources)
            log(f"{label}: preparing {files} files, {audio_s:.0f} s")
            r = measured_prepare(root, run_env, run_work, dataset_id)
            r["audio_s_per_s"] = round(audio_s / r["process_wall_s"], 2)
            if label == "after":
                r["step_busy_s"] = step_seconds()
            out[label] = r
            log(f"{label}: {r}")
        if baseline:
            out["ratio_after_over_before"] = round(out["after"]["audio_s_per_s"] / out["before"]["audio_s_per_s"], 3)
        if kill_at:
            (work / "resume").mkdir()
            out["resume"] = crash_and_resume(ROOT, env, work / "resume", sources, kill_at)
            left = 1 - sum(out["resume"]["kept_at_kill"].values()) / (4 * files)
            out["resume"]["share_left_at_kill"] = round(left, 3)
            out["resume"]["full_run_share_of_rerun"] = round(
                out["resume"]["rerun_wall_s"] / out["after"]["process_wall_s"], 3
            )
            log(f"resume: {out['resume']}")
    finally:
        server.stop()
    a = out["after"]
    out["target_met"] = a["audio_s_per_s"] >= TARGET_AUDIO_S_PER_S and a["peak_rss_tree_gb"] <= TARGET_RSS_GB
    return out


def section(r: dict) -> str:
    m, a = r["machine"], r["after"]
    lines = [
        f"### The seed's scale: {r['hours']:g} h in {r['files']} files, prepared in one go — {r['date']}",
        "",
        machine_line(m),
        f"- command: `{r['command']}`",
        f"- code: {r['code']}",
        f"- date: {r['date']}",
        "- speech: espeak-ng (generated), one mp3 of two thirds of the hours and 10–30 s files in "
        f"{', '.join(SHORT_FORMATS)}; {r['audio_seconds']} s in all",
        "",
        "| code | wall s (process, model loads included) | audio s / wall s | peak RSS, process tree | segments |",
        "|---|---:|---:|---:|---|",
    ]
    for label in ("before", "after", "variant"):
        if label in r:
            x = r[label]
            name = f"after, {' '.join(r['variant_env'])}" if label == "variant" else label
            lines.append(
                f"| {name} | {x['process_wall_s']} | {x['audio_s_per_s']} | {x['peak_rss_tree_gb']} GB | "
                f"{x['segments']} |"
            )
    lines.append("")
    if "ratio_after_over_before" in r:
        lines.append(f"- ratio after / before, same run: **{r['ratio_after_over_before']}x**")
    lines.append(
        f"- target ≥ {TARGET_AUDIO_S_PER_S:g} audio s / s and ≤ {TARGET_RSS_GB} GB: "
        f"{'met' if r['target_met'] else 'not met'} ({a['audio_s_per_s']} audio s / s, {a['peak_rss_tree_gb']} GB)"
    )
    busy = ", ".join(f"{k} {v['busy_s']} s ({v['task_runs']} runs)" for k, v in a.get("step_busy_s", {}).items())
    if busy:
        lines.append(f"- busy seconds of task threads by step (they overlap): {busy}")
    if "resume" in r:
        z = r["resume"]
        lines.append(
            f"- crash: SIGKILL after {z['killed_after_s']} s (step {z['progress_at_kill']}), step results kept "
            f"{z['kept_at_kill']}; prepared again in {z['rerun_wall_s']} s ({z['full_run_share_of_rerun']:.0%} of a "
            f"full run, with {z['share_left_at_kill']:.0%} of the steps left), computing {z['computed_after_crash']}; "
            f"results redone: **{z['redone_after_crash']}**"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, default=3.0, help="hours of speech (default 3)")
    p.add_argument("--kill-at", type=float, default=0.6, help="share of steps done when the crash comes; 0: no crash")
    p.add_argument("--baseline-root", type=Path, help="another checkout whose code prepares the same upload")
    p.add_argument("--variant", nargs="*", default=[], metavar="KEY=VALUE", help="also prepare with this environment")
    p.add_argument("--sources", type=Path, help="where generated speech is kept (default .bench/seed-sources)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--update-docs", action="store_true", help=f"write a dated section to {DOCS.name}")
    args = p.parse_args(argv)
    sources = args.sources or ROOT / ".bench" / f"seed-sources-{args.hours:g}h"
    info = run_info("prepare_seed_scale.py", PIPELINE_CODE, argv)
    variant = dict(kv.split("=", 1) for kv in args.variant)
    # Prefect and friends must not pollute --json
    with bench_work("seed-") as work, contextlib.redirect_stdout(sys.stderr):
        result = {
            **seed_scale(args.hours, work, sources, args.kill_at or None, args.baseline_root, variant),
            **info,
            "variant_env": args.variant,
        }
    if args.update_docs:
        write_sections({f"seed-scale-{args.hours:g}h:{result['date']}": section(result)})
    print(json.dumps(result) if args.json else section(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
