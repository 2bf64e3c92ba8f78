"""Fine-tuning a tiny base model on a prepared dataset under the Prefect harness."""

import pytest

from provoice import synthetic
from provoice.catalog import Catalog
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.voice_models.model_store import load_for_inference
from provoice.voice_models.registry import BaseModelRegistry
from provoice.tts.synthesize import synthesize

pytestmark = pytest.mark.integration


def test_fine_tune_pins_the_base_exports_and_resumes(prefect_harness, settings, tmp_path):
    from flows.ingest import ingest_files
    from flows.prepare import prepare_dataset
    from flows.train import fine_tune_model

    up = tmp_path / "up"
    up.mkdir()
    for i in range(3):
        synthetic.speech_file(up / f"take{i}.wav", synthetic.corpus(12, start=3 * i))
    ds = Catalog(settings).create_dataset("narrator")
    ingest_files(ds.id, [str(up)])
    assert prepare_dataset(ds.id).files[0].status == "accepted"
    BaseModelRegistry(settings).create_random("tiny-base", tiny=True)

    out = fine_tune_model(ds.id, run_id="ft-1", max_steps=3, batch_size=2, checkpoint_every=2).model_dump()
    assert out["model_id"] == "tiny-base/ft-1" and out["base_model_id"] == "tiny-base"
    assert out["steps"] == 3 and out["stopped_by"] == "max_steps"
    assert set(out["evaluation"]) == {"wer", "speaker_similarity", "dnsmos"}
    storage = Storage.from_settings(Settings())
    assert "onnx_uri" not in out and "loss_curve_uri" not in out
    assert storage.exists(f"models/{out['model_id']}/model.onnx") and storage.exists("training/ft-1/loss_curve.png")

    generator, meta = load_for_inference(Settings(), out["model_id"])
    assert generator.config.conditioned and meta.id == "tiny-base/ft-1"
    audio, rate = synthesize(generator, meta, "A short test sentence.", seed=0)
    assert rate == meta.sample_rate and audio.size > rate * 0.1

    again = fine_tune_model(ds.id, run_id="ft-1", max_steps=3, batch_size=2, checkpoint_every=2).model_dump()
    assert again["steps"] == 3

    import json

    from typer.testing import CliRunner

    from interfaces.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["model", "evaluate", "tiny-base/ft-1", "--dataset", ds.id, "--json"])
    assert r.exit_code == 0, r.stderr
    assert set(json.loads(r.stdout)) == {"wer", "speaker_similarity", "dnsmos"}
    r = runner.invoke(app, ["tts", "--model-id", "tiny-base/ft-1", "--reference", str(up / "take0.wav"),
                            "--text", "Hello there.", "-o", str(tmp_path / "out.wav"), "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["conditioned"] is True and (tmp_path / "out.wav").stat().st_size > 1000
    r = runner.invoke(app, ["model", "train", ds.id])
    assert r.exit_code == 1 and "give a training budget" in r.stderr
    r = runner.invoke(app, ["tts", "--model-id", "tiny-base/nope", "--text", "x", "-o", str(tmp_path / "x.wav")])
    assert r.exit_code == 1 and "no model 'tiny-base/nope'" in r.stderr

    monkeypatch_env = {"PROVOICE_TRAIN_PROCESSES": "2"}
    import os
    os.environ.update(monkeypatch_env)
    try:
        ddp = fine_tune_model(ds.id, run_id="ft-ddp", max_steps=2, batch_size=2, checkpoint_every=2).model_dump()
    finally:
        os.environ.pop("PROVOICE_TRAIN_PROCESSES")
    assert ddp["model_id"] == "tiny-base/ft-ddp" and ddp["steps"] == 2
    assert Storage.from_settings(Settings()).read_json("training/ft-ddp/result.json")["processes"] == 2
