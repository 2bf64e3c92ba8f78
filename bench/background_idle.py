"""What the home's background processes cost when idle (issue 27).

1. Models: Whisper and the speaker encoder loaded and used the way the prepare flow does, then given
   back with `provoice.loading.release_models` (what the flow daemon does when idle): resident memory
   before and after, anonymous (heap) and file-backed (library code) apart, and the reload time.
2. Local server: a Prefect server as Prefect starts it and one as `LocalServer` starts it (the home's
   services only), started together and watched idle over the same window: CPU and memory of each.

    .venv/bin/python bench/background_idle.py [--window 20] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import code_version, free_port, log, machine, machine_line, write_sections


def _rss_mb() -> dict[str, int]:
    """RssAnon (heap, what giving back frees) and RssFile (mapped libraries, shared and reclaimable)."""
    status = Path("/proc/self/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if line.startswith(("RssAnon", "RssFile")))
    return {k: int(v.split()[0]) // 1024 for k, v in fields.items()}


def models() -> dict:
    import numpy as np

    from provoice import synthetic
    from provoice.asr.whisper import load_model, transcribe_segments
    from provoice.audio.wavio import read_slice
    from provoice.loading import release_models
    from provoice.quality.speaker import embed_many, load_encoder
    from provoice.settings import Settings

    settings = Settings()
    work = Path(tempfile.mkdtemp())
    wav = synthetic.speech_file(work / "speech.wav", synthetic.SENTENCES[:3])
    import soundfile as sf
    import soxr

    audio, rate = sf.read(wav, dtype="float32")
    audio16 = soxr.resample(audio, rate, 16000).astype(np.float32)
    sf.write(work / "speech16.wav", audio16, 16000)
    seconds = len(audio16) / 16000

    def use() -> float:
        started = time.monotonic()
        model = load_model(settings.asr_model, "cpu", settings.asr_compute_type, settings.asr_cpu_threads)
        encoder = load_encoder("cpu")
        loaded_s = time.monotonic() - started
        transcribe_segments(model, work / "speech16.wav", [(0.0, seconds)])
        embed_many(encoder, [read_slice(work / "speech16.wav", 0.0, seconds)] * 8)
        return loaded_s

    out = {"before_load_mb": _rss_mb(), "first_load_s": round(use(), 2), "loaded_mb": _rss_mb()}
    out["released"] = release_models()
    out["released_mb"] = _rss_mb()
    out["reload_s"] = round(use(), 2)
    return out


def _start(home: Path, home_services: bool) -> subprocess.Popen:
    from deployments.local_server import HOME_SERVICES

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_", "PREFECT_SERVER_SERVICES_"))}
    env.update(
        PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", **(HOME_SERVICES if home_services else {})
    )
    home.mkdir(parents=True)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=(home / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.api_url = f"http://127.0.0.1:{port}/api"  # type: ignore[attr-defined]
    return proc


def server(window_s: float) -> dict:
    from deployments.background import sample_usage
    from deployments.local_server import healthy, kill_group

    work = Path(tempfile.mkdtemp())
    procs = {"prefect defaults": _start(work / "default", False), "home services": _start(work / "home", True)}
    try:
        for proc in procs.values():
            while not healthy(proc.api_url):  # type: ignore[attr-defined]
                time.sleep(0.5)
        time.sleep(15)  # past start-up work
        usage = sample_usage([p.pid for p in procs.values()], window_s)
        return {
            name: {"cpu_percent": usage[p.pid].cpu_percent, "rss_mb": usage[p.pid].rss_bytes >> 20}
            for name, p in procs.items()
        }
    finally:
        for proc in procs.values():
            kill_group(proc.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--window", type=float, default=20.0, help="seconds the idle servers are watched")
    parser.add_argument("--record", action="store_true", help="write the figures into docs/BENCHMARKS.md")
    args = parser.parse_args()
    m = machine()
    log("models: load, use, release, reload")
    figures = {"models": models()}
    log(f"two idle Prefect servers over {args.window:.0f} s")
    figures["server"] = server(args.window)
    print(json.dumps(figures, indent=2))
    if args.record:
        mod, srv = figures["models"], figures["server"]
        body = (
            "### Background processes when idle (`bench/background_idle.py`)\n"
            f"{machine_line(m)}; code {code_version(['deployments', 'provoice/loading.py'])}\n"
            f"- models (Whisper + speaker encoder) loaded and used: {mod['loaded_mb']} MB; given back: "
            f"{mod['released_mb']} MB (libraries stay mapped); reload {mod['reload_s']} s\n"
            + "".join(
                f"- idle Prefect server, {k}: {v['cpu_percent']} % of a core, {v['rss_mb']} MB\n"
                for k, v in srv.items()
            )
        )
        write_sections({"background-idle": body})


if __name__ == "__main__":
    main()
