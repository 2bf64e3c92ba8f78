"""How right are the transcripts a voice trains on? Word errors against the script, real-sounding takes.

The realistic corpus (`provoice.recordings`: Joe's Piper voice in rooms, codecs and conditions
that real uploads have) is prepared through the real path (ingest, then the `prepare-dataset`
flow, each in a child process against one Prefect server), once with the ASR settings of before
(`BASELINE`) and once with the current ones, in the same run, so the throughput ratio compares like
with like on this machine. Each segment's transcript is scored against the part of the script it
covers (a free-ended alignment of its words inside the file's script, so a segment is judged on the
words its audio holds), for the segments kept in the manifest and for all of them; the file-level
WER of the issue (kept text joined against the owner's script, case and punctuation aside) is kept
for comparison. Next to each file's measured accuracy stands the one the product estimates from
Whisper's word probabilities (the dataset report's `transcript_accuracy`).

    python bench/transcript_accuracy.py --scale 3 --json
    python bench/transcript_accuracy.py --scale 3 --update-docs
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DOCS, bench_work, ingest, log, machine_line, run_info, set_env, write_sections

#: Today's decoding before this bench's fixes: a window one second past the speech, no retry.
BASELINE = {"PROVOICE_ASR_WINDOW_MARGIN_S": "1.0", "PROVOICE_ASR_RETRY_LOOPS": "false"}
MEASURED_CODE = ["flows", "tasks", "provoice/asr", "provoice/audio", "provoice/dataset", "provoice/quality"]


def plain_words(text: str) -> list[str]:
    """Lower case, punctuation removed: the issue's normalisation (prepare_throughput's)."""
    return "".join(c if c.isalnum() or c.isspace() or c == "'" else " " for c in text.lower()).split()


def spoken_words(text: str) -> list[str]:
    """Whisper's English normaliser: what the phonemiser reads alike ("47"/"forty seven",
    "harbour"/"harbor") agrees."""
    from provoice.asr.wer import normalise

    return normalise(text).split()


def local_errors(hyp: list[str], ref: list[str]) -> tuple[int, int]:
    """(edit distance, reference words) of `hyp` against its best-matching stretch of `ref`: both
    ends of `ref` are free, so only the words the segment's audio covers are judged."""
    if not hyp:
        return 0, 0
    n = len(ref)
    prev = [(0, 0)] * (n + 1)  # (errors, reference words used) ending at reference position j
    for i, w in enumerate(hyp, 1):
        cur = [(i, 0)] + [(0, 0)] * n
        for j in range(1, n + 1):
            sub = prev[j - 1][0] + (ref[j - 1] != w), prev[j - 1][1] + 1
            ins = prev[j][0] + 1, prev[j][1]
            dele = cur[j - 1][0] + 1, cur[j - 1][1] + 1
            cur[j] = min(sub, ins, dele)
        prev = cur
    return min(prev[1:] or [(len(hyp), 0)])


def file_wer(ref: str, hyp: str) -> float:
    import jiwer

    r, h = " ".join(plain_words(ref)), " ".join(plain_words(hyp))
    return float(jiwer.wer(r, h)) if h else 1.0


def child(step: str, work: Path, arg: str, result: Path) -> None:
    """Child process: `ingest` a folder, or `prepare` a dataset and dump every segment's decision."""
    set_env(work)
    if step == "ingest":
        result.write_text(json.dumps({"dataset_id": ingest(Path(arg), "transcripts")}))
        return
    from flows.prepare import prepare_dataset
    from provoice.catalog import Catalog
    from provoice.dataset.steps import work_prefix
    from provoice.settings import Settings
    from provoice.storage import Storage

    t0, cpu0 = time.perf_counter(), _cpu_s()
    summary = prepare_dataset(arg).model_dump()
    wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    settings = Settings()
    storage, catalog = Storage.from_settings(settings), Catalog(settings)
    run = catalog.prepared_run(arg)
    manifest = Path(unquote(urlparse(run.manifest_uri).path)).read_text().splitlines()
    kept = {(r["file_id"], r["start"]) for r in map(json.loads, filter(None, manifest))}
    report = json.loads(Path(unquote(urlparse(run.manifest_uri).path)).with_name("report.json").read_text())
    files = {}
    for f in catalog.files(arg):
        key = f"{work_prefix(settings, f.sha256, 'quality')}/quality.json"
        q = storage.read_json(key) if f.sha256 and storage.exists(key) else {"segments": []}
        files[f.original_name] = [
            {
                "start": s["start"],
                "end": s["end"],
                "text": s["text"],
                "kept": (f.id, s["start"]) in kept,
                "transcript_accuracy": s["metrics"].get("transcript_accuracy"),
            }
            for s in q.get("segments", [])
        ]
    result.write_text(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": cpu,
                "files": files,
                "accepted_seconds": summary["accepted_seconds"],
                "transcript_accuracy": report.get("transcript_accuracy"),
                "file_accuracy": {f["name"]: f.get("transcript_accuracy") for f in report["files"]},
            }
        )
    )


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (ffmpeg): steadier than wall time on a
    machine others share."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def prepare(work: Path, src: Path, env: dict, label: str) -> dict:
    """Ingest and prepare `src` in fresh child processes with `env`, in a home of their own."""
    home = work / label
    env = {**env, "PROVOICE_HOME": str(home / "home")}
    out = {}
    for step, arg in (("ingest", str(src)), ("prepare", None)):
        result = home / f"{step}.json"
        home.mkdir(parents=True, exist_ok=True)
        arg = arg or out["dataset_id"]
        cmd = [sys.executable, __file__, "--_child", step, str(home), arg, str(result)]
        subprocess.run(cmd, env=env, stdout=sys.stderr, check=True)
        out.update(json.loads(result.read_text()))
    return out


def score(corpus: list, prepared: dict) -> dict:
    """Per case and overall: local WER of kept and of all segments, the issue's file-level WER,
    and the product's estimate beside the measured accuracy."""
    cases, tot = {}, {"kept": [0, 0], "all": [0, 0], "kept_plain": [0, 0]}
    refs, hyps = [], []
    for f in corpus:
        segs = prepared["files"].get(f.path.name, [])
        script = " ".join(f.owner_script + f.other_script)
        ref_spoken, ref_plain = spoken_words(script), plain_words(script)
        row = {"case": f.case, "format": f.path.suffix.lstrip("."), "segments": len(segs)}
        for which, pick in (("kept", lambda s: s["kept"]), ("all", lambda s: True)):
            e = n = 0
            for s in filter(pick, segs):
                de, dn = local_errors(spoken_words(s["text"]), ref_spoken)
                e, n = e + de, n + dn
            row[f"wer_{which}"] = round(e / n, 4) if n else None
            tot[which][0] += e
            tot[which][1] += n
        e = n = 0
        for s in filter(lambda s: s["kept"], segs):
            de, dn = local_errors(plain_words(s["text"]), ref_plain)
            e, n = e + de, n + dn
        tot["kept_plain"][0] += e
        tot["kept_plain"][1] += n
        row["wer_kept_plain"] = round(e / n, 4) if n else None
        kept_text = " ".join(s["text"] for s in sorted(segs, key=lambda s: s["start"]) if s["kept"])
        row["file_wer_kept"] = round(file_wer(" ".join(f.owner_script), kept_text), 4) if kept_text else None
        if kept_text:
            refs.append(" ".join(f.owner_script))
            hyps.append(kept_text)
        row["estimated_accuracy"] = prepared["file_accuracy"].get(f.path.name)
        row["measured_accuracy"] = None if row["wer_kept"] is None else round(1 - row["wer_kept"], 4)
        cases[f.path.name] = row
    import jiwer

    joined = float(jiwer.wer([" ".join(plain_words(r)) for r in refs], [" ".join(plain_words(h)) for h in hyps]))
    return {
        "wer_kept": round(tot["kept"][0] / max(tot["kept"][1], 1), 4),
        "wer_all": round(tot["all"][0] / max(tot["all"][1], 1), 4),
        "wer_kept_plain": round(tot["kept_plain"][0] / max(tot["kept_plain"][1], 1), 4),
        "file_wer_kept": round(joined, 4),
        "estimated_accuracy": prepared["transcript_accuracy"],
        "wall_s": round(prepared["wall_s"], 1),
        "cpu_s": round(prepared["cpu_s"], 1),
        "accepted_seconds": prepared["accepted_seconds"],
        "files": cases,
    }


def run(scale: float, seed: int, repeats: int, work: Path) -> dict:
    set_env(work)
    from prefect.server.api.server import SubprocessASGIServer

    from provoice.recordings import realistic_corpus

    t0 = time.perf_counter()
    corpus = realistic_corpus(work / "src", scale=scale, seed=seed)
    audio_s = sum(float(_duration(f.path)) for f in corpus)
    log(f"corpus: {len(corpus)} files, {audio_s:.0f} s in {time.perf_counter() - t0:.0f} s")
    server = SubprocessASGIServer()
    server.start(timeout=180)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVOICE_ASR_")}
    env["PREFECT_API_URL"] = server.api_url
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    try:
        for i in range(repeats):  # alternated, each in a fresh home, so neither side gets the quieter minutes
            for label, extra in (("before", BASELINE), ("after", {})):
                runs[label].append(prepare(work, work / "src", {**env, **extra}, f"{label}-{i}"))
                log(f"{label} {i}: {runs[label][-1]['wall_s']:.0f} s, {runs[label][-1]['cpu_s']:.0f} CPU s")
    finally:
        server.stop()
    before, after = (
        {**r[-1], "wall_s": min(x["wall_s"] for x in r), "cpu_s": min(x["cpu_s"] for x in r)} for r in runs.values()
    )
    b, a = score(corpus, before), score(corpus, after)
    return {
        "scale": scale,
        "seed": seed,
        "repeats": repeats,
        "audio_seconds": round(audio_s, 1),
        "owner_sentences": sum(len(f.owner_script) for f in corpus),
        "before": b,
        "after": a,
        "baseline_settings": BASELINE,
        "throughput_ratio_after_over_before": round(b["wall_s"] / a["wall_s"], 3),
        "cpu_ratio_before_over_after": round(b["cpu_s"] / a["cpu_s"], 3),
    }


def _duration(path: Path) -> float:
    cmd = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", str(path)]
    return float(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip() or 0)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def section(r: dict) -> str:
    m, b, a = r["machine"], r["before"], r["after"]
    head = f"{machine_line(m)}\n- command: `{r['command']}`\n- code: {r['code']}\n- date: {r['date']}\n"
    rows = "".join(
        f"| `{name}` ({row['case']}) | {_pct(row['wer_kept'])} | {_pct(a['files'][name]['wer_kept'])} | "
        f"{_pct(row['wer_all'])} | {_pct(a['files'][name]['wer_all'])} | "
        f"{_pct(a['files'][name]['measured_accuracy'])} | {_pct(a['files'][name]['estimated_accuracy'])} |\n"
        for name, row in b["files"].items()
    )
    body = (
        f"{r['audio_seconds']:g} s of audio in {len(b['files'])} files ({r['owner_sentences']} owner sentences; "
        f"realistic corpus at scale {r['scale']:g}, seed {r['seed']}); before = "
        f"{', '.join(f'`{k}={v}`' for k, v in r['baseline_settings'].items())}, after = the defaults.\n\n"
        "| | before | after |\n|---|---:|---:|\n"
        f"| WER of kept segments (each against the script it covers, Whisper's normaliser) | "
        f"**{_pct(b['wer_kept'])}** | **{_pct(a['wer_kept'])}** |\n"
        f"| WER of all segments | {_pct(b['wer_all'])} | {_pct(a['wer_all'])} |\n"
        f"| WER of kept segments, case and punctuation only | {_pct(b['wer_kept_plain'])} | "
        f"{_pct(a['wer_kept_plain'])} |\n"
        f"| file-level WER (kept text joined against the owner's script, the issue's measure) | "
        f"{_pct(b['file_wer_kept'])} | {_pct(a['file_wer_kept'])} |\n"
        f"| estimated transcript accuracy (dataset report) | {_pct(b['estimated_accuracy'])} | "
        f"{_pct(a['estimated_accuracy'])} |\n"
        f"| preparation wall s (ingest excluded; best of {r['repeats']}, alternated) | {b['wall_s']} | "
        f"{a['wall_s']} |\n"
        f"| preparation CPU s (ffmpeg included; best of {r['repeats']}) | {b['cpu_s']} | {a['cpu_s']} |\n"
        f"| accepted s | {b['accepted_seconds']} | {a['accepted_seconds']} |\n\n"
        f"- throughput after / before: **{r['throughput_ratio_after_over_before']}x** by wall time, "
        f"**{r['cpu_ratio_before_over_after']}x** by CPU time (target ≥ 0.85x)\n\n"
        "| file | WER kept, before | after | WER all, before | after | measured accuracy (after) | "
        "estimated (after) |\n|---|---:|---:|---:|---:|---:|---:|\n" + rows
    )
    return f"### Transcript accuracy, realistic corpus — {r['date']}\n\n{head}\n{body}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=float, default=3.0, help="sentences per case x this (3: several minutes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=2, help="preparations of each side, alternated (best time kept)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--update-docs", action="store_true", help=f"write a dated section to {DOCS.name}")
    p.add_argument("--keep", action="store_true", help="keep the generated data under .bench/")
    p.add_argument("--_child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        step, work, arg, result = args._child
        child(step, Path(work), arg, Path(result))
        return 0
    info = run_info("transcript_accuracy.py", MEASURED_CODE, argv)
    with bench_work("transcripts-", args.keep) as work, contextlib.redirect_stdout(sys.stderr):
        result = {**run(args.scale, args.seed, args.repeats, work), **info}
    if args.update_docs:
        write_sections({f"transcript-accuracy:{result['date']}": section(result)})
    if args.json:
        print(json.dumps(result))
    else:
        print(section(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
