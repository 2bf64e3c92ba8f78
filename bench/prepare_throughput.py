"""Is the Prefect prepare flow worth it? Throughput, accuracy and memory against a naive script.

The flow adds orchestration (a Prefect server, tasks, storage, caching) on top of the same
pydub/ffmpeg → webrtcvad → faster-whisper steps a user could chain in thirty lines. It must earn
that: at least 1.3x the naive script's audio-seconds per wall-second at the same word error rate,
and a 60-minute upload prepared in at most 1.5 GB of memory. This script measures both on
generated espeak speech whose text is known, so the figures in docs/BENCHMARKS.md can be redone
on any machine with one command.

    python bench/prepare_throughput.py --minutes 10 --json           # flow vs naive, same run
    python bench/prepare_throughput.py --long-minutes 60 --update-docs  # peak RSS on one long file
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DOCS, ROOT, bench_work, ingest, log, machine_line, run_info, set_env, write_sections

FORMATS = ["wav", "mp3", "flac", "ogg"]
FILE_SECONDS = 60.0
TARGET_RATIO, TARGET_RSS_GB = 1.3, 1.5
#: From the CLI, start-up included (create + prepare as a user runs them) against the naive script.
CLI_TARGET_RATIO = 2.5
PIPELINE_CODE = [
    "flows",
    "tasks",
    "provoice/asr",
    "provoice/audio",
    "provoice/dataset",
    "provoice/quality",
    "provoice/catalog",
    "provoice/settings.py",
    "provoice/storage.py",
    "provoice/synthetic.py",
]


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def make_files(folder: Path, minutes: float) -> tuple[dict[str, str], float]:
    """~60 s espeak files covering `minutes`, cycling wav/mp3/flac/ogg; returns text by name, seconds."""
    from provoice.synthetic import corpus, encode, speech_file

    folder.mkdir(parents=True, exist_ok=True)
    n = max(1, round(minutes * 60 / FILE_SECONDS))
    texts: dict[str, str] = {}
    total, seen = 0.0, set()
    for i in range(n):
        sentences = corpus(FILE_SECONDS, start=5 * i)
        while tuple(sentences) in seen:  # identical uploads would be rejected as duplicates
            sentences = sentences + corpus(3.6, start=i)
        seen.add(tuple(sentences))
        fmt = FORMATS[i % len(FORMATS)]
        wav = speech_file(folder / f"speech{i:03d}.wav", sentences)
        total += wav_seconds(wav)
        name = wav.name
        if fmt != "wav":
            name = encode(wav, wav.with_suffix(f".{fmt}"), fmt).name
            wav.unlink()
        texts[name] = " ".join(sentences)
    return texts, total


def make_long(folder: Path, minutes: float) -> tuple[dict[str, str], float]:
    """One `minutes`-long mp3: 60 s espeak chunks joined with ffmpeg's concat demuxer."""
    from provoice.synthetic import corpus, speech_file

    folder.mkdir(parents=True, exist_ok=True)
    parts = folder.parent / "parts"
    parts.mkdir(exist_ok=True)
    chunks, texts, total = [], [], 0.0
    for i in range(max(1, round(minutes * 60 / FILE_SECONDS))):
        sentences = corpus(FILE_SECONDS, start=i)
        chunks.append(speech_file(parts / f"part{i:03d}.wav", sentences))
        texts.append(" ".join(sentences))
        total += wav_seconds(chunks[-1])
    listing = parts / "list.txt"
    listing.write_text("".join(f"file '{c}'\n" for c in chunks))
    dest = folder / f"long{minutes:g}min.mp3"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            str(dest),
        ],
        check=True,
    )
    shutil.rmtree(parts)
    return {dest.name: " ".join(texts)}, total


def wer(refs: list[str], hyps: list[str]) -> float:
    """Corpus WER, case and punctuation normalised."""
    import jiwer

    norm = jiwer.Compose(
        [
            jiwer.ToLowerCase(),
            jiwer.RemovePunctuation(),
            jiwer.RemoveMultipleSpaces(),
            jiwer.Strip(),
            jiwer.ReduceToListOfListOfWords(),
        ]
    )
    return float(jiwer.wer(refs, hyps, reference_transform=norm, hypothesis_transform=norm))


def whisper_model():
    """The model both paths use, with the flow's own arguments (shared lru_cache in this process)."""
    from provoice.asr.whisper import load_model
    from provoice.settings import Settings

    s = Settings()
    return load_model(s.asr_model, s.resolved_device(), s.asr_compute_type, s.asr_cpu_threads)


def warm_up(folder: Path) -> float:
    """Load and exercise Whisper (both call paths) and the speaker encoder; returns seconds spent."""
    from provoice.asr.whisper import transcribe_one, transcribe_segments
    from provoice.audio.wavio import read_slice
    from provoice.quality.speaker import load_encoder
    from provoice.settings import Settings
    from provoice.synthetic import SENTENCES, speech_file

    t0 = time.perf_counter()
    model = whisper_model()
    load_encoder(Settings().resolved_device())
    wav16 = decode16(speech_file(folder / "warm.wav", SENTENCES[:1]), folder / "warm16.wav")
    transcribe_one(model, read_slice(wav16, 0.0, 3.0))
    transcribe_segments(model, wav16, [(0.0, 3.0)], beam_size=1, batch_size=Settings().asr_batch_size)
    return time.perf_counter() - t0


def decode16(src: Path, dest: Path) -> Path:
    """The naive decode: pydub, downmixed to 16 kHz mono 16-bit, written as a WAV."""
    from pydub import AudioSegment

    AudioSegment.from_file(src).set_channels(1).set_frame_rate(16000).set_sample_width(2).export(dest, format="wav")
    return dest


def run_naive(files: list[Path], scratch: Path) -> dict[str, str]:
    """pydub decode → webrtcvad segments → one faster-whisper call per segment, file after file."""
    from provoice.asr.whisper import transcribe_one
    from provoice.audio.vad import segment
    from provoice.audio.wavio import read_slice

    model = whisper_model()
    out = {}
    for f in files:
        wav16 = decode16(f, scratch / f"{f.stem}.16k.wav")
        seg = segment(wav16, aggressiveness=2, frame_ms=30, padding_ms=200, min_s=1.0, max_s=15.0)
        out[f.name] = " ".join(
            transcribe_one(model, read_slice(wav16, a, b), beam_size=1).text for a, b in seg.segments
        )
        wav16.unlink()
    return out


def start_prefect() -> float:
    """Run a trivial flow so the temporary Prefect server is up before anything is timed."""
    from prefect import flow

    @flow(name="bench-warm-up")
    def noop() -> int:
        return 1

    t0 = time.perf_counter()
    noop()
    return time.perf_counter() - t0


def flow_outputs(dataset_id: str, summary: dict) -> dict[str, Any]:
    """Per-file manifest text and transcript text (before quality filtering), rejections verbatim."""
    from provoice.catalog import Catalog
    from provoice.dataset.steps import work_prefix
    from provoice.settings import Settings
    from provoice.storage import Storage

    settings = Settings()
    storage = Storage.from_settings(settings)
    catalog = Catalog(settings)
    files = catalog.files(dataset_id)
    names = {f.id: f.original_name for f in files}
    manifest_uri = catalog.prepared_run(dataset_id).manifest_uri  # kept out of the summary a user sees
    manifest = Path(unquote(urlparse(manifest_uri).path)).read_text().splitlines()
    rows = collections.defaultdict(list)
    for r in map(json.loads, filter(None, manifest)):
        rows[names[r["file_id"]]].append((r["start"], r["text"]))
    kept = {n: " ".join(t for _, t in sorted(rows.get(n, []))) for n in names.values()}
    everything, reasons, total_segments = {}, collections.Counter(), 0
    for f in files:
        key = f"{work_prefix(settings, f.sha256, 'quality')}/quality.json"
        q = storage.read_json(key) if f.sha256 and storage.exists(key) else {"segments": []}
        if "rejected" in q:
            q = {"segments": []}
        everything[f.original_name] = " ".join(s["text"] for s in q["segments"])
        total_segments += len(q["segments"])
        reasons.update(s["reason"] for s in q["segments"] if s["reason"])
    return {
        "kept": kept,
        "all": everything,
        "segments_total": total_segments,
        "segments_accepted": sum(len(v) for v in rows.values()),
        "accepted_seconds": summary["accepted_seconds"],
        "rejected_files": {f["name"]: f["reason"] for f in summary["files"] if f["status"] != "accepted"},
        "segment_rejections": dict(reasons.most_common(10)),
    }


def cli_end_to_end(src: Path, work: Path) -> tuple[dict, str, dict]:
    """`provoice dataset create --from SRC --prepare` as a user runs it: a subprocess in a fresh home
    with no PREFECT_API_URL, so every start-up it pays is counted (interpreter, imports, model loads,
    flow runs). The home's local Prefect server is started first and timed apart: the first command
    after boot pays it once, later ones reuse it. The same as two commands (`create`, then
    `prepare`) runs in a second fresh home, so neither finds the other's cached work."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_", "PREFECT_HOME", "PROVOICE_HOME"))}
    cli = [sys.executable, "-m", "interfaces.cli"]
    start = (
        "from deployments.local_server import LocalServer\nfrom provoice.settings import Settings\n"
        "LocalServer(Settings(), say=lambda _: None).ensure()\n"
    )
    envs = [{**base, "PROVOICE_HOME": str(work / f"cli-home-{i}")} for i in (1, 2)]
    server_s = []
    for env in envs:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", start], env=env, cwd=ROOT, check=True)
        server_s.append(time.perf_counter() - t0)

    def timed(env: dict, *args: str) -> tuple[float, dict]:
        t0 = time.perf_counter()
        done = subprocess.run([*cli, *args, "--json"], env=env, cwd=ROOT, check=True, capture_output=True, text=True)
        return time.perf_counter() - t0, json.loads(done.stdout)

    try:
        one_s, summary = timed(envs[0], "dataset", "create", "bench-cli", "--from", str(src), "--prepare")
        create_s, created = timed(envs[1], "dataset", "create", "bench-cli", "--from", str(src))
        prepare_s, _ = timed(envs[1], "dataset", "prepare", created["id"])
    finally:
        for env in envs:
            subprocess.run([*cli, "server", "stop"], env=env, cwd=ROOT, capture_output=True)
    return (
        {
            "cli_total_s": round(one_s, 2),
            "cli_create_s": round(create_s, 2),
            "cli_prepare_s": round(prepare_s, 2),
            "cli_two_commands_s": round(create_s + prepare_s, 2),
            "cli_server_start_s": round(server_s[0], 2),
        },
        summary["dataset_id"],
        summary,
    )


def throughput(minutes: float, work: Path) -> dict:
    """Generate, warm everything, then time the naive script and the prepare flow on the same files."""
    set_env(work)
    src = work / "src"
    texts, audio_s = make_files(src, minutes)
    log(f"generated {len(texts)} files, {audio_s:.0f} s of speech")
    warm_s = warm_up(work)
    server_s = start_prefect()
    log(f"models warmed in {warm_s:.1f} s, Prefect server up in {server_s:.1f} s")

    files = sorted(src.iterdir())
    scratch = work / "naive"
    scratch.mkdir()
    t0 = time.perf_counter()
    naive = run_naive(files, scratch)
    naive_s = time.perf_counter() - t0
    log(f"naive: {naive_s:.1f} s")

    dataset_id = ingest(src)
    from flows.prepare import prepare_dataset

    t0 = time.perf_counter()
    summary = prepare_dataset(dataset_id).model_dump()
    flow_s = time.perf_counter() - t0
    log(f"flow: {flow_s:.1f} s")
    out = flow_outputs(dataset_id, summary)

    log("CLI: dataset create + prepare as subprocesses, in a home of their own")
    cli, cli_dataset, cli_summary = cli_end_to_end(src, work)
    home = os.environ["PROVOICE_HOME"]
    os.environ["PROVOICE_HOME"] = str(work / "cli-home-1")
    try:
        cli_out = flow_outputs(cli_dataset, cli_summary)
    finally:
        os.environ["PROVOICE_HOME"] = home
    log(f"CLI: {cli}")

    names = sorted(texts)
    refs = [texts[n] for n in names]
    cli_wer = wer(refs, [cli_out["kept"][n] for n in names])
    cli_x = audio_s / cli["cli_total_s"]
    naive_x, flow_x = audio_s / naive_s, audio_s / flow_s
    naive_wer, flow_wer = wer(refs, [naive[n] for n in names]), wer(refs, [out["kept"][n] for n in names])
    return {
        "mode": "throughput",
        "minutes": minutes,
        "files": len(names),
        "formats": sorted({Path(n).suffix[1:] for n in names}),
        "audio_seconds": round(audio_s, 1),
        "naive_wall_s": round(naive_s, 2),
        "flow_wall_s": round(flow_s, 2),
        "prefect_server_start_s": round(server_s, 2),
        "warm_up_s": round(warm_s, 2),
        "naive_audio_s_per_s": round(naive_x, 2),
        "flow_audio_s_per_s": round(flow_x, 2),
        "flow_incl_server_start_audio_s_per_s": round(audio_s / (flow_s + server_s), 2),
        "ratio_flow_over_naive": round(flow_x / naive_x, 3),
        "naive_wer": round(naive_wer, 4),
        "flow_wer": round(flow_wer, 4),
        "flow_wer_before_quality_filter": round(wer(refs, [out["all"][n] for n in names]), 4),
        "flow_accepted_seconds": out["accepted_seconds"],
        "flow_segments": f"{out['segments_accepted']} accepted of {out['segments_total']}",
        "rejected_files": out["rejected_files"],
        "segment_rejections": out["segment_rejections"],
        "target_met": flow_x / naive_x >= TARGET_RATIO and flow_wer <= naive_wer + 0.005,
        **cli,
        "cli_audio_s_per_s": round(cli_x, 2),
        "cli_wer": round(cli_wer, 4),
        "ratio_cli_over_naive": round(cli_x / naive_x, 3),
        "ratio_cli_two_commands_over_naive": round(audio_s / cli["cli_two_commands_s"] / naive_x, 3),
        "ratio_cli_incl_server_start_over_naive": round(
            audio_s / (cli["cli_total_s"] + cli["cli_server_start_s"]) / naive_x, 3
        ),
        "cli_target_met": cli_x / naive_x >= CLI_TARGET_RATIO and cli_wer <= naive_wer + 0.005,
    }


def child(step: str, work: Path, arg: str, result: Path) -> None:
    """Child process: `ingest` a folder, or `prepare` a dataset alone (no warm-up), both against
    the parent's Prefect server."""
    import resource

    set_env(work)
    if step == "ingest":
        result.write_text(json.dumps({"dataset_id": ingest(Path(arg))}))
        return
    from flows.prepare import prepare_dataset

    dataset_id = arg

    t0 = time.perf_counter()
    summary = prepare_dataset(dataset_id).model_dump()
    wall = time.perf_counter() - t0
    out = flow_outputs(dataset_id, summary)
    result.write_text(
        json.dumps(
            {
                "wall_s": wall,
                "kept": out["kept"],
                "rejected_files": out["rejected_files"],
                "segment_rejections": out["segment_rejections"],
                "accepted_seconds": out["accepted_seconds"],
                "segments": f"{out['segments_accepted']} accepted of {out['segments_total']}",
                "self_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "children_peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            }
        )
    )


def sample_tree_rss(pid: int, stop: threading.Event, peak: dict) -> None:
    """Poll the summed RSS of a process and all its descendants (ffmpeg included) every 50 ms."""
    import psutil

    root = psutil.Process(pid)
    while not stop.is_set():
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                total += p.memory_info().rss
        peak["tree"] = max(peak.get("tree", 0), total)
        peak["procs"] = max(peak.get("procs", 0), len(procs))
        time.sleep(0.05)


def long_rss(minutes: float, work: Path) -> dict:
    """Peak memory of preparing one long file, the flow running in a child process."""
    set_env(work)
    src = work / "src"
    texts, audio_s = make_long(src, minutes)
    log(f"generated {next(iter(texts))}: {audio_s:.0f} s")
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # outside the measured tree: a deployment runs it elsewhere
    server.start(timeout=180)
    env = {**os.environ, "PREFECT_API_URL": server.api_url}
    try:
        result = work / "ingest.json"
        subprocess.run(
            [sys.executable, __file__, "--_child", "ingest", str(work), str(src), str(result)],
            env=env,
            stdout=sys.stderr,
            check=True,
        )
        dataset_id = json.loads(result.read_text())["dataset_id"]
        result, peak, stop = work / "prepare.json", {}, threading.Event()
        cmd = [sys.executable, __file__, "--_child", "prepare", str(work), dataset_id, str(result)]
        proc = subprocess.Popen(cmd, env=env, stdout=sys.stderr)
        sampler = threading.Thread(target=sample_tree_rss, args=(proc.pid, stop, peak), daemon=True)
        sampler.start()
        if proc.wait() != 0:
            raise RuntimeError(f"prepare child failed with exit code {proc.returncode}")
        stop.set()
        sampler.join()
    finally:
        server.stop()
    child_out = json.loads(result.read_text())
    name = next(iter(texts))
    gb = 1024**3
    self_gb, ffmpeg_gb = child_out["self_peak_kb"] * 1024 / gb, child_out["children_peak_kb"] * 1024 / gb
    return {
        "mode": "long",
        "minutes": minutes,
        "file": name,
        "audio_seconds": round(audio_s, 1),
        "flow_wall_s": round(child_out["wall_s"], 2),
        "flow_audio_s_per_s": round(audio_s / child_out["wall_s"], 2),
        "peak_rss_flow_process_gb": round(self_gb, 3),
        "peak_rss_largest_subprocess_gb": round(ffmpeg_gb, 3),
        "peak_rss_tree_sampled_gb": round(peak.get("tree", 0) / gb, 3),
        "peak_rss_bound_gb": round(self_gb + ffmpeg_gb, 3),
        "flow_wer": round(wer([texts[name]], [child_out["kept"].get(name, "")]), 4),
        "flow_accepted_seconds": child_out["accepted_seconds"],
        "flow_segments": child_out["segments"],
        "rejected_files": child_out["rejected_files"],
        "segment_rejections": child_out["segment_rejections"],
        "target_met": self_gb + ffmpeg_gb <= TARGET_RSS_GB,
    }


def section(result: dict) -> str:
    m, r = result["machine"], result
    head = f"{machine_line(m)}\n- command: `{r['command']}`\n- code: {r['code']}\n- date: {r['date']}\n"
    if r["mode"] == "throughput":
        title = f"Throughput, {r['minutes']:g} min in {r['files']} files ({', '.join(r['formats'])})"
        body = (
            "| path | wall s | audio s / wall s | WER |\n|---|---:|---:|---:|\n"
            f"| naive script | {r['naive_wall_s']} | {r['naive_audio_s_per_s']} | "
            f"{r['naive_wer']:.2%} |\n"
            f"| prepare flow | {r['flow_wall_s']} | {r['flow_audio_s_per_s']} | {r['flow_wer']:.2%} |\n"
            + (
                f"| CLI `dataset create --from DIR --prepare` (a subprocess, start-up included) | "
                f"{r['cli_total_s']} | {r['cli_audio_s_per_s']} | {r['cli_wer']:.2%} |\n"
                if "cli_total_s" in r
                else ""
            )
            + "\n"
            f"- ratio flow / naive: **{r['ratio_flow_over_naive']}x** (target {TARGET_RATIO}x at equal "
            f"WER: {'met' if r['target_met'] else 'not met'})\n"
            + (
                f"- ratio CLI / naive, start-up included: **{r['ratio_cli_over_naive']}x** (target "
                f"{CLI_TARGET_RATIO}x at equal WER: "
                f"{'met' if r['cli_target_met'] else 'not met'}); the first command after boot also starts the "
                f"local Prefect server ({r['cli_server_start_s']} s, once): "
                f"{r['ratio_cli_incl_server_start_over_naive']}x; as two commands (`create` {r['cli_create_s']} s, "
                f"then `prepare` {r['cli_prepare_s']} s): {r['ratio_cli_two_commands_over_naive']}x\n"
                if "cli_total_s" in r
                else ""
            )
            + f"- flow including Prefect server start-up ({r['prefect_server_start_s']} s): "
            f"{r['flow_incl_server_start_audio_s_per_s']} audio s / wall s\n"
            f"- flow WER before the quality filter: {r['flow_wer_before_quality_filter']:.2%}; "
            f"segments {r['flow_segments']}; {r['flow_accepted_seconds']} of "
            f"{r['audio_seconds']} s accepted\n"
        )
    else:
        title = f"Peak memory, one {r['minutes']:g}-minute file (`{r['file']}`)"
        body = (
            f"- peak RSS, flow process: {r['peak_rss_flow_process_gb']} GB; largest subprocess "
            f"(ffmpeg/ffprobe): {r['peak_rss_largest_subprocess_gb']} GB\n"
            f"- peak RSS, process tree sampled every 50 ms: **{r['peak_rss_tree_sampled_gb']} GB**; "
            f"upper bound (flow + largest subprocess): {r['peak_rss_bound_gb']} GB "
            f"(target ≤ {TARGET_RSS_GB} GB for 60 min: {'met' if r['target_met'] else 'not met'} at "
            f"{r['minutes']:g} min)\n"
            f"- prepare wall time {r['flow_wall_s']} s including model loads "
            f"({r['flow_audio_s_per_s']} audio s / wall s); WER {r['flow_wer']:.2%}; "
            f"segments {r['flow_segments']}\n"
        )
    files = "; ".join(f"`{n}`: {why}" for n, why in r["rejected_files"].items()) or "none"
    kinds = collections.Counter()
    for why, n in r["segment_rejections"].items():
        kinds[why.split(" (", 1)[0]] += n
    body += (
        f"- rejected files: {files}; rejected segments (top reasons): "
        f"{', '.join(f'{k} ×{n}' for k, n in kinds.items()) or 'none'}\n"
    )
    return f"### {title} — {r['date']}\n\n{head}\n{body}"


def marker(r: dict) -> str:
    return f"{r['mode']}-{r['minutes']:g}min:{r['date']}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, help="flow vs naive on this much speech (default 10)")
    p.add_argument("--long-minutes", type=float, help="peak RSS of preparing one file this long (instead of --minutes)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--update-docs", action="store_true", help=f"write a dated section to {DOCS.name}")
    p.add_argument("--keep", action="store_true", help="keep the generated data under .bench/")
    p.add_argument("--_child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        step, work, arg, result = args._child
        child(step, Path(work), arg, Path(result))
        return 0
    info = run_info("prepare_throughput.py", PIPELINE_CODE, argv)
    # Prefect and friends must not pollute --json
    with bench_work("run-", args.keep) as work, contextlib.redirect_stdout(sys.stderr):
        if args.long_minutes:
            result = {**long_rss(args.long_minutes, work), **info}
        else:
            result = {**throughput(args.minutes or 10.0, work), **info}
    if args.update_docs:
        write_sections({marker(result): section(result)})
    if args.json:
        print(json.dumps(result))
    else:
        print(section(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
