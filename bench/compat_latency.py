"""Time to first audio through every speech route, side by side with `POST /tts`.

One medium fine-tuned model (the imported Joe base with voice conditioning, exported as the
fine-tune flow exports it: `serving_speed.served_model`) on a real uvicorn socket; the same
five-sentence paragraph through each route in its clients' usual format, interleaved over
`--rounds` rounds, medians. "First audio" is the first body bytes (or event, or WebSocket message)
that carry samples; "whole" is the end of the response. Ratios are against `POST /tts` with
`"stream": true`, so they hold on any machine; absolute times only mean something on the target.

`--update-docs` writes a dated section into docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import code_version, log, machine, machine_line, write_sections
from serving_speed import MODEL_ID, PARAGRAPH, _Server, bench_app, served_model


def http_stream(
    url: str, path: str, headers: dict, body: dict, params: dict | None = None, events: bool = False
) -> tuple[float, float]:
    """(seconds to the first audio, seconds to the end) of one streamed HTTP response."""
    import httpx

    start = time.perf_counter()
    first = None
    with httpx.stream("POST", f"{url}{path}", json=body, headers=headers, params=params, timeout=600) as r:
        r.raise_for_status()
        if events:
            for line in r.iter_lines():
                if first is None and line.startswith("data:") and ('"audio"' in line or '"data"' in line):
                    first = time.perf_counter() - start
        else:
            for chunk in r.iter_raw():
                if first is None and chunk:
                    first = time.perf_counter() - start
    return first, time.perf_counter() - start


def native_ws(url: str, headers: dict, body: dict) -> tuple[float, float]:
    from websockets.sync.client import connect

    start = time.perf_counter()
    first = None
    with connect(url.replace("http", "ws") + "/tts/ws", additional_headers=headers, max_size=None) as ws:
        ws.send(json.dumps(body))
        while True:
            message = ws.recv()
            if isinstance(message, bytes):
                first = first or time.perf_counter() - start
            elif json.loads(message).get("done") or json.loads(message).get("error"):
                break
    return first, time.perf_counter() - start


def cartesia_ws(url: str, key: str, voice_id: str) -> tuple[float, float]:
    from websockets.sync.client import connect

    start = time.perf_counter()
    first = None
    with connect(url.replace("http", "ws") + f"/cartesia/tts/websocket?api_key={key}", max_size=None) as ws:
        ws.send(
            json.dumps(
                {
                    "context_id": "bench",
                    "model_id": "sonic-3",
                    "transcript": PARAGRAPH,
                    "voice": {"mode": "id", "id": voice_id},
                    "continue": False,
                    "output_format": {"container": "raw", "encoding": "pcm_f32le", "sample_rate": 44100},
                }
            )
        )
        while True:
            message = json.loads(ws.recv())
            if message.get("type") == "chunk" and message.get("data"):
                first = first or time.perf_counter() - start
                base64.b64decode(message["data"])
            if message.get("type") in ("done", "error"):
                break
    return first, time.perf_counter() - start


def routes(url: str, key: str, voice_id: str, model_id: str) -> dict[str, Callable[[], tuple[float, float]]]:
    native = {"X-API-Key": key}
    bearer = {"Authorization": f"Bearer {key}"}
    body = {"model_id": model_id, "voice_id": voice_id, "text": PARAGRAPH}
    cartesia = {**bearer, "Cartesia-Version": "2026-08-14"}
    cartesia_body = {
        "model_id": "sonic-3",
        "transcript": PARAGRAPH,
        "voice": {"mode": "id", "id": voice_id},
        "output_format": {"container": "raw", "encoding": "pcm_f32le", "sample_rate": 44100},
    }
    openai = {"model": "tts-1", "voice": voice_id, "input": PARAGRAPH}
    eleven = {"xi-api-key": key}
    return {
        "POST /tts (stream, wav)": lambda: http_stream(url, "/tts", native, {**body, "stream": True}),
        "POST /tts (whole, wav)": lambda: http_stream(url, "/tts", native, body),
        "POST /tts (stream, mp3 44.1 kHz)": lambda: http_stream(
            url, "/tts", native, {**body, "stream": True, "output_format": {"container": "mp3", "sample_rate": 44100}}
        ),
        "WS /tts/ws (raw pcm)": lambda: native_ws(url, native, body),
        "OpenAI /v1/audio/speech (mp3)": lambda: http_stream(url, "/v1/audio/speech", bearer, openai),
        "OpenAI /v1/audio/speech (pcm 24 kHz)": lambda: http_stream(
            url, "/v1/audio/speech", bearer, {**openai, "response_format": "pcm"}
        ),
        "OpenAI /v1/audio/speech (sse)": lambda: http_stream(
            url, "/v1/audio/speech", bearer, {**openai, "response_format": "pcm", "stream_format": "sse"}, events=True
        ),
        "Cartesia /tts/bytes (f32 44.1 kHz)": lambda: http_stream(url, "/cartesia/tts/bytes", cartesia, cartesia_body),
        "Cartesia /tts/sse (f32 44.1 kHz)": lambda: http_stream(
            url, "/cartesia/tts/sse", cartesia, cartesia_body, events=True
        ),
        "Cartesia /tts/websocket (f32 44.1 kHz)": lambda: cartesia_ws(url, key, voice_id),
        "ElevenLabs /stream (mp3_44100_128)": lambda: http_stream(
            url,
            f"/elevenlabs/v1/text-to-speech/{voice_id}/stream",
            eleven,
            {"text": PARAGRAPH},
            params={"output_format": "mp3_44100_128"},
        ),
        "ElevenLabs convert (pcm_24000)": lambda: http_stream(
            url,
            f"/elevenlabs/v1/text-to-speech/{voice_id}",
            eleven,
            {"text": PARAGRAPH},
            params={"output_format": "pcm_24000"},
        ),
    }


def measure(rounds: int) -> dict:
    import numpy as np

    from provoice.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="provoice-compat-bench-"))
    settings = Settings(home=work / "home")
    served_model(settings)
    embedding = np.random.default_rng(0).standard_normal(256).astype(np.float32) * 0.1
    app, key, voice = bench_app(settings, embedding)
    with _Server(app) as url:
        timed = routes(url, key, voice.id, MODEL_ID)
        for fn in timed.values():  # warm every path once (model load, encoders)
            fn()
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in timed}
        for r in range(rounds):
            log(f"round {r + 1}/{rounds}")
            for name, fn in timed.items():
                results[name].append(fn())
    base = statistics.median(first for first, _ in results["POST /tts (stream, wav)"])
    table = {}
    for name, values in results.items():
        first = statistics.median(v[0] for v in values)
        whole = statistics.median(v[1] for v in values)
        table[name] = {
            "first_audio_s": round(first, 3),
            "whole_s": round(whole, 3),
            "first_over_tts_stream": round(first / base, 2),
        }
    return {"rounds": rounds, "characters": len(PARAGRAPH), "routes": table}


def markdown(result: dict, m: dict, command: str) -> str:
    lines = [
        f"### Time to first audio by route ({date.today().isoformat()})",
        "",
        f"Machine: {machine_line(m)}. Command: `{command}`. Code: {code_version()}.",
        "",
        f"A medium fine-tuned model (Joe base with voice conditioning, ONNX-served) reads the same "
        f"{result['characters']}-character, five-sentence paragraph through each route on a real uvicorn "
        f"socket; medians of {result['rounds']} interleaved rounds. The ratio is against `POST /tts` "
        "streamed.",
        "",
        "| route | first audio (s) | whole (s) | first audio / POST /tts stream |",
        "|---|---|---|---|",
    ]
    for name, row in result["routes"].items():
        lines.append(f"| {name} | {row['first_audio_s']} | {row['whole_s']} | {row['first_over_tts_stream']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--update-docs", action="store_true")
    args = ap.parse_args()
    result = measure(args.rounds)
    print(json.dumps(result, indent=2))
    if args.update_docs:
        command = f"python bench/compat_latency.py --rounds {args.rounds} --update-docs"
        write_sections({"compat-latency": markdown(result, machine(), command)})


if __name__ == "__main__":
    main()
