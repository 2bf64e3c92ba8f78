"""Fine-tuning a tiny base model on a prepared dataset under the Prefect harness."""

import json

import pytest

from provoice import synthetic
from provoice.catalog import Catalog
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts.synthesis import synthesize
from provoice.tts.train.checkpoint import load_state
from provoice.voice_models.export import config_key
from provoice.voice_models.model_store import MODELS_PREFIX, load_for_inference
from provoice.voice_models.recipe import RECIPE
from provoice.voice_models.registry import BaseModelRegistry
from provoice.voice_models.validation import VALIDATION_SENTENCES
from tests.conftest import QUICK_SCORING

pytestmark = pytest.mark.integration


def _artifact(key: str) -> str:
    """The newest data of an artifact key, straight from the API."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        found = client.request(
            "POST",
            "/artifacts/filter",
            json={"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1, "offset": 0},
        ).json()
    assert found, f"no artifact {key}"
    return found[0]["data"]


def test_fine_tune_pins_the_base_exports_and_resumes(prefect_harness, settings, tmp_path, monkeypatch):
    from flows.ingest import ingest_files
    from flows.prepare import prepare_dataset
    from flows.train import fine_tune_model

    up = tmp_path / "up"
    up.mkdir()
    for i in range(4):
        synthetic.speech_file(up / f"take{i}.wav", synthetic.corpus(15, start=3 * i))
    ds = Catalog(settings).create_dataset("narrator")
    ingest_files(ds.id, [str(up)])
    assert prepare_dataset(ds.id).files[0].status == "accepted"
    BaseModelRegistry(settings).create_random("tiny-base", tiny=True)

    # One held-out sentence per evaluation and validation: what is checked is the scores' shape, the
    # seeds and the steps, none of which needs more (the bundle below checks QUICK_SCORING's three).
    monkeypatch.setenv("PROVOICE_EVAL_SENTENCES", "1")
    monkeypatch.setenv("PROVOICE_TRAIN_VALIDATION_SENTENCES", "1")
    monkeypatch.setenv("PROVOICE_EVAL_SEEDS", "2")
    out = fine_tune_model(ds.id, run_id="ft-1", max_steps=3, batch_size=2, checkpoint_every=2).model_dump()
    monkeypatch.setenv("PROVOICE_EVAL_SEEDS", "1")
    assert out["model_id"] == "tiny-base/ft-1" and out["base_model_id"] == "tiny-base"
    assert out["steps"] == 3 and out["stopped_by"] == "max_steps"
    assert set(out["evaluation"]) == {
        "wer",
        "speaker_similarity",
        "dnsmos",
        "ceiling_similarity",
        "base",
        "wer_by_seed",
    }
    assert len(out["evaluation"]["wer_by_seed"]) == 2  # every sentence read with two synthesis seeds
    assert out["evaluation"]["wer"] == pytest.approx(sum(out["evaluation"]["wer_by_seed"]) / 2, abs=1e-3)
    assert out["evaluation"]["base"]["model_id"] == "tiny-base" and 0 < out["evaluation"]["ceiling_similarity"] <= 1
    storage = Storage.from_settings(Settings())
    assert "onnx_uri" not in out and "loss_curve_uri" not in out
    assert storage.exists(f"models/{out['model_id']}/model.onnx") and storage.exists("training/ft-1/loss_curve.png")
    # Validation ran at the start (the base) and at the end, wrote previews, and chose the step exported.
    assert out["best_step"] == 3
    assert [k.rsplit("/", 1)[1] for k in storage.list("training/ft-1/previews")] == [
        "step-000000000.json",
        "step-000000000.wav",
        "step-000000003.json",
        "step-000000003.wav",
    ]
    assert set(storage.read_json("training/ft-1/previews/step-000000003.json")) >= {
        "wer",
        "speaker_similarity",
        "dnsmos",
        "mel",
    }
    table = _artifact("validation-ft-1")
    assert [row["step"] for row in json.loads(table)] == [0, 3]
    summary = _artifact("model-ft-1")
    assert "data:image/png;base64," in summary and "file://" not in summary and "`model.onnx`" in summary

    generator, meta = load_for_inference(Settings(), out["model_id"])
    assert generator.config.conditioned and meta.id == "tiny-base/ft-1"
    assert meta.inference.noise_scale == RECIPE.noise_scale  # and in its Piper voice config:
    assert storage.read_json("models/tiny-base/ft-1/model.onnx.json")["inference"]["noise_scale"] == RECIPE.noise_scale
    audio, rate = synthesize(generator, meta, "A short test sentence.", seed=0)
    assert rate == meta.sample_rate and audio.size > rate * 0.1
    # The recipe that trained it is on record in the checkpoint and with the exported model.
    checkpoint = load_state(storage, storage.list("training/ft-1/checkpoints")[-1])
    assert checkpoint["train_config"]["recipe"] == RECIPE.name
    assert storage.read_json(config_key(MODELS_PREFIX, out["model_id"]))["metadata"]["recipe"]["name"] == RECIPE.name

    again = fine_tune_model(ds.id, run_id="ft-1", max_steps=3, batch_size=2, checkpoint_every=2).model_dump()
    assert again["steps"] == 3

    from typer.testing import CliRunner

    from interfaces.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["model", "evaluate", "tiny-base/ft-1", "--dataset", ds.id, "--json"])
    assert r.exit_code == 0, r.stderr
    evaluated = json.loads(r.stdout)
    assert set(evaluated) == {"wer", "speaker_similarity", "dnsmos", "ceiling_similarity", "base", "wer_by_seed"}
    assert evaluated["ceiling_similarity"] == out["evaluation"]["ceiling_similarity"]
    r = runner.invoke(
        app,
        [
            "tts",
            "--model-id",
            "tiny-base/ft-1",
            "--reference",
            str(up / "take0.wav"),
            "--text",
            "Hello there.",
            "-o",
            str(tmp_path / "out.wav"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["conditioned"] is True and (tmp_path / "out.wav").stat().st_size > 1000
    monkeypatch.setenv("PROVOICE_TRAIN_VALIDATION_SENTENCES", QUICK_SCORING["PROVOICE_TRAIN_VALIDATION_SENTENCES"])
    r = runner.invoke(
        app,
        [
            "model",
            "bundle",
            ds.id,
            str(tmp_path / "bundle"),
            "--weights",
            "int8",
            "--max-audio-minutes",
            "0.3",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    written = json.loads(r.stdout)
    assert set(written["files"]) >= {"bundle.json", "data.npz", "generator.npz"} and written["weights"] == "int8"
    assert "discriminator.npz" in written["files"]  # the tiny base has a trained one; it travels along
    assert 0 < written["audio_seconds"] <= 18 + 8  # the sample stops at the first item past 0.3 min
    from provoice.tts.train import LocalRunStore, read_bundle

    bundled = read_bundle(LocalRunStore(tmp_path / "bundle"))
    assert bundled.generator().config.conditioned and bundled.validation.sentences == list(VALIDATION_SENTENCES[:3])
    assert bundled.info["base_model_id"] == "tiny-base" and bundled.info["train_config"]["module_lr"]
    r = runner.invoke(app, ["model", "bundle", ds.id, str(tmp_path / "b2"), "--weights", "fp8"])
    assert r.exit_code == 1 and "--weights must be one of fp32, fp16, int8" in r.stderr
    r = runner.invoke(app, ["model", "train", ds.id])
    assert r.exit_code == 1 and "give a training budget" in r.stderr
    r = runner.invoke(app, ["tts", "--model-id", "tiny-base/nope", "--text", "x", "-o", str(tmp_path / "x.wav")])
    assert r.exit_code == 1 and "no model 'tiny-base/nope'" in r.stderr

    monkeypatch.setenv("PROVOICE_TRAIN_VALIDATION_SENTENCES", "1")
    monkeypatch_env = {"PROVOICE_TRAIN_PROCESSES": "2"}
    import os

    os.environ.update(monkeypatch_env)
    try:
        ddp = fine_tune_model(ds.id, run_id="ft-ddp", max_steps=2, batch_size=2, checkpoint_every=2).model_dump()
    finally:
        os.environ.pop("PROVOICE_TRAIN_PROCESSES")
    assert ddp["model_id"] == "tiny-base/ft-ddp" and ddp["steps"] == 2
    assert Storage.from_settings(Settings()).read_json("training/ft-ddp/result.json")["processes"] == 2
