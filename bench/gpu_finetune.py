"""GPU fine-tune check from a training bundle, sized to one short run on a lent GPU machine.

Needs only torch and numpy (and this repository's `provoice/` on the path): no ffmpeg, Whisper,
espeak-ng or piper-phonemize. Fine-tunes the bundle's base for `--minutes` on CUDA (the CPU when
there is none) and prints one JSON document: steps/s, audio seconds trained per second, peak GPU
memory, batch size, and the validation curve (held-out mel L1; the preview WAVs it writes can be
scored later where Whisper is). Make a bundle first where the data tools are:

    provoice model bundle DATASET_ID /tmp/bundle --weights int8 --max-audio-minutes 5
    python bench/gpu_finetune.py --bundle /tmp/bundle --minutes 4

With `--record`, the figures go to docs/BENCHMARKS.md (needs the project installed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run(bundle_dir: Path, minutes: float, out: Path, batch_size: int | None, validate_every: int) -> dict:
    import torch

    from provoice.tts.train import LocalRunStore, TrainConfig, read_bundle, train_bundle

    started = time.perf_counter()
    bundle = read_bundle(LocalRunStore(bundle_dir))
    cuda = torch.cuda.is_available()
    suggested = dict(bundle.info.get("train_config", {}))
    config = TrainConfig.from_dict(
        {
            **suggested,
            "max_minutes": minutes,
            "max_steps": None,
            "device": "cuda" if cuda else "cpu",
            "validate_every": validate_every,
            "validate_at_start": True,
            "early_stop_patience": 0,
            "checkpoint_every": 10_000,
            "log_every": 10,
            "batch_size": batch_size or suggested.get("batch_size", 8),
        }
    )
    records: list[dict] = []
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    load_s = time.perf_counter() - started
    result = train_bundle(bundle, config, LocalRunStore(out), "", on_metrics=records.append)
    timed = [r for r in records if "steps_per_s" in r]
    steps = timed[1:] or timed  # the first window holds the start-up (allocation, kernels' first runs)
    weights = [r["step"] for r in steps]
    return {
        "device": torch.cuda.get_device_name(0) if cuda else f"CPU ({os.cpu_count()} cores)",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "bundle": {
            "items": bundle.info["items"],
            "audio_seconds": bundle.info["audio_seconds"],
            "weights": bundle.info["weights"],
            "megabytes": round(sum(p.stat().st_size for p in bundle_dir.iterdir()) / 1e6, 1),
        },
        "minutes": minutes,
        "steps": result.step,
        "batch_size": result.batch_size,
        "bf16": bool(cuda and torch.cuda.is_bf16_supported()),
        "steps_per_s": round(sum(r["steps_per_s"] for r in steps) / max(len(steps), 1), 3) if weights else None,
        "audio_s_per_s": round(sum(r["audio_s_per_s"] for r in steps) / max(len(steps), 1), 2) if weights else None,
        "peak_gpu_gb": round(torch.cuda.max_memory_allocated() / 1024**3, 2) if cuda else None,
        "load_s": round(load_s, 1),
        "trained_s": round(result.trained_s, 1),
        "validation_s": result.validation_s,
        "best_step": result.best_step,
        "validation": [
            {"step": int(r["step"]), "mel": round(r["val_mel"], 4)} for r in result.history if "val_mel" in r
        ],
        "wall_s": round(time.perf_counter() - started, 1),
    }


def markdown(r: dict, command: str) -> str:
    from datetime import date

    curve = ", ".join(f"{p['step']}: {p['mel']:.3f}" for p in r["validation"])
    return "\n".join(
        [
            f"### GPU fine-tune from a bundle ({date.today().isoformat()})",
            "",
            f"- command: `{command}`",
            f"- device: {r['device']}, torch {r['torch']}, Python {r['python']}, bf16 {r['bf16']}",
            f"- bundle: {r['bundle']['items']} items, {r['bundle']['audio_seconds'] / 60:.1f} min of audio, "
            f"{r['bundle']['weights']} weights, {r['bundle']['megabytes']} MB",
            f"- {r['steps']} steps in {r['trained_s']:.0f} s at batch {r['batch_size']}: {r['steps_per_s']} steps/s, "
            f"{r['audio_s_per_s']} s of audio per second; peak GPU memory {r['peak_gpu_gb']} GB; "
            f"validation {r['validation_s']:.0f} s; wall {r['wall_s']:.0f} s including loading",
            f"- held-out mel L1 by step: {curve}; best step {r['best_step']}",
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--out", type=Path, default=None, help="default: a temporary directory")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--validate-every", type=int, default=50)
    ap.add_argument("--record", action="store_true", help="write the figures to docs/BENCHMARKS.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.bundle, args.minutes, args.out or Path(tmp), args.batch_size, args.validate_every)
    print(json.dumps(result, indent=1))
    if args.record:
        sys.path.insert(0, str(ROOT / "bench"))
        from _common import write_sections

        device = "gpu" if result["peak_gpu_gb"] is not None else "cpu"
        write_sections({f"gpu-finetune-{device}": markdown(result, "python " + " ".join(sys.argv))})


if __name__ == "__main__":
    main()
