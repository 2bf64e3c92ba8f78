"""What the home's background processes cost when idle (issue 27).

1. Models: a process with the flow daemon's imports and Whisper and the speaker encoder loaded and
   used the way the prepare flow does, against a process with the imports alone (what the daemon
   renews itself into when idle): resident memory, anonymous (heap) and file-backed (libraries) apart,
   the renewal's time and the next request's model load.
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

from _common import free_port, log, machine, machine_line, run_info, write_sections


def _rss_mb() -> dict[str, int]:
    """RssAnon (heap) and RssFile (mapped libraries, shared and reclaimable) of this process."""
    status = Path("/proc/self/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if line.startswith(("RssAnon", "RssFile")))
    return {k: int(v.split()[0]) // 1024 for k, v in fields.items()}


def child(use_models: bool) -> dict:
    """In a process of its own: what the flow daemon imports before it serves, then (with
    `use_models`) Whisper and the speaker encoder loaded and used the way the prepare flow does."""
    started = time.monotonic()
    import flows.ingest
    import flows.prepare  # noqa: F401

    out: dict = {"imports_s": round(time.monotonic() - started, 2), "fresh_mb": _rss_mb()}
    if not use_models:
        return out
    import numpy as np
    import soundfile as sf
    import soxr

    from provoice import synthetic
    from provoice.asr.whisper import load_model, transcribe_segments
    from provoice.audio.wavio import read_slice
    from provoice.quality.speaker import embed_many, load_encoder
    from provoice.settings import Settings

    settings = Settings()
    work = Path(tempfile.mkdtemp())
    wav = synthetic.speech_file(work / "speech.wav", synthetic.SENTENCES[:3])
    audio, rate = sf.read(wav, dtype="float32")
    sf.write(work / "speech16.wav", soxr.resample(audio, rate, 16000).astype(np.float32), 16000)
    seconds = len(audio) / rate
    started = time.monotonic()
    model = load_model(settings.asr_model, "cpu", settings.asr_compute_type, settings.asr_cpu_threads)
    encoder = load_encoder("cpu")
    out["load_s"] = round(time.monotonic() - started, 2)
    transcribe_segments(model, work / "speech16.wav", [(0.0, seconds)])
    embed_many(encoder, [read_slice(work / "speech16.wav", 0.0, seconds)] * 8)
    out["loaded_mb"] = _rss_mb()
    return out


def models() -> dict:
    """A daemon that used its models against the fresh interpreter it renews itself into (same imports,
    no model), each measured in a process of its own."""

    def run(*args: str) -> dict:
        done = subprocess.run(
            [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True, cwd=Path.cwd()
        )
        return json.loads(done.stdout.splitlines()[-1])

    used, fresh = run("use"), run()
    return {
        "loaded_mb": used["loaded_mb"],
        "renewed_mb": fresh["fresh_mb"],
        "renew_s": fresh["imports_s"],
        "reload_s": used["load_s"],
    }


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
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(use_models=args.child == ["use"])))
        return
    m = machine()
    log("models: loaded and used, against the renewed daemon's fresh interpreter")
    figures = {"models": models()}
    log(f"two idle Prefect servers over {args.window:.0f} s")
    figures["server"] = server(args.window)
    print(json.dumps(figures, indent=2))
    if args.record:
        mod, srv = figures["models"], figures["server"]
        info = run_info("background_idle.py", ["deployments", "provoice/loading.py"], None)

        def mb(rss: dict[str, int]) -> str:
            return f"{rss['RssAnon'] + rss['RssFile']} MB (heap {rss['RssAnon']}, libraries {rss['RssFile']})"

        body = (
            "### Background processes when idle (`bench/background_idle.py`)\n"
            f"{machine_line(m)}; {info['date']}; code {info['code']}; `{info['command']}`\n"
            f"- flow daemon with Whisper and the speaker encoder loaded and used: {mb(mod['loaded_mb'])}; "
            f"renewed when idle (a fresh interpreter, same imports, no model): {mb(mod['renewed_mb'])}; "
            f"renewal (exec and imports) {mod['renew_s']} s, the next request's model load {mod['reload_s']} s\n"
            + "".join(
                f"- idle Prefect server, {k}: {v['cpu_percent']} % of a core, {v['rss_mb']} MB\n"
                for k, v in srv.items()
            )
        )
        write_sections({"background-idle": body})


if __name__ == "__main__":
    main()
