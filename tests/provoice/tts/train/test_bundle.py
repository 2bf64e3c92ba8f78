"""Training bundles: a faithful round trip, and training from one in a process that cannot import
ffmpeg, Whisper, espeak or piper-phonemize (what a GPU node has: torch and numpy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from provoice.tts.model.config import VitsConfig
from provoice.tts.model.synthesizer import SynthesizerTrn
from provoice.tts.train import LocalRunStore, TrainConfig, ValidationSet, bundle_files, read_bundle
from tests.provoice.tts.train.test_trainer import make_items

ROOT = Path(__file__).resolve().parents[4]
#: Everything a GPU node does not have; importing any of them in the trainer's process fails.
ABSENT = (
    "faster_whisper",
    "ctranslate2",
    "piper_phonemize",
    "resemblyzer",
    "speechmos",
    "onnxruntime",
    "soundfile",
    "scipy",
    "librosa",
    "fsspec",
    "pydantic",
    "prefect",
    "matplotlib",
    "webrtcvad",
)


def write_bundle(folder: Path, weights: str = "fp32") -> tuple[SynthesizerTrn, list]:
    cfg = VitsConfig.tiny(gin_channels=8)
    torch.manual_seed(0)
    generator = SynthesizerTrn(cfg)
    items = make_items(cfg, 6, embeddings=True)
    vset = ValidationSet(
        sentences=["one", "two"], phoneme_ids=[[1, 5, 9, 3], [2, 7, 7, 4, 1]], voice=items[0].embedding, clips=items[:2]
    )
    config = TrainConfig(
        batch_size=2,
        max_steps=1,
        device="cpu",
        log_every=1,
        validate_every=2,
        validate_at_start=True,
        validation_budget=100.0,
    )
    for name, data in bundle_files(
        items, vset, generator, info={"train_config": config.to_dict()}, weights=weights
    ).items():
        (folder / name).write_bytes(data)
    return generator, items


def test_a_bundle_round_trips_items_validation_and_weights(tmp_path):
    generator, items = write_bundle(tmp_path)
    bundle = read_bundle(LocalRunStore(tmp_path))
    assert [i.item_id for i in bundle.items] == [i.item_id for i in items]
    assert all(a.phoneme_ids == b.phoneme_ids for a, b in zip(bundle.items, items))
    assert max(float(np.abs(a.audio - b.audio).max()) for a, b in zip(bundle.items, items)) < 1e-4  # int16
    assert np.allclose(bundle.items[3].embedding, items[3].embedding)
    assert bundle.validation.phoneme_ids[1] == [2, 7, 7, 4, 1] and len(bundle.validation.clips) == 2
    state = generator.state_dict()
    assert all(torch.equal(bundle.generator().state_dict()[k], state[k]) for k in state)

    compact = tmp_path / "int8"
    compact.mkdir()
    write_bundle(compact, "int8")
    assert (compact / "generator.npz").stat().st_size < 0.5 * (tmp_path / "generator.npz").stat().st_size
    restored = read_bundle(LocalRunStore(compact)).generator().state_dict()
    worst = max(float((restored[k] - state[k]).abs().max() / (state[k].abs().max() + 1e-12)) for k in state)
    assert worst < 0.01  # per-channel int8: under 1 % of each tensor's range
    with pytest.raises(ValueError, match="is not a version 1 provoice-train-bundle"):
        (tmp_path / "bundle.json").write_text(json.dumps({"format": "other"}))
        read_bundle(LocalRunStore(tmp_path))


def test_a_bundle_trains_where_only_torch_and_numpy_exist(tmp_path):
    (tmp_path / "bundle").mkdir()
    write_bundle(tmp_path / "bundle")
    out = tmp_path / "out"
    blocker = (
        f"import sys\nfor m in {ABSENT!r}: sys.modules[m] = None\n"
        "from provoice.tts.train.bundle import main\nsys.exit(main(sys.argv[1:]))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(PATH="/nonexistent", PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", blocker, str(tmp_path / "bundle"), str(out), "--max-steps", "4"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["step"] == 4 and summary["best_step"] in (2, 4)
    assert sorted(p.name for p in (out / "previews").iterdir()) == [
        f"step-{s:09d}.{ext}" for s in (0, 2, 4) for ext in ("json", "wav")
    ]
    history = json.loads((out / "history.json").read_text())
    assert [r["step"] for r in history if "val_mel" in r] == [0, 2, 4]
    assert list((out / "checkpoints").iterdir()) and list((out / "best").iterdir())
    assert "no loss curve written" in done.stderr  # matplotlib is absent there, and that is fine
