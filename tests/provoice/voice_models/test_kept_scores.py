"""A model is scored once per dataset version and evaluation settings: a later PVC reads its base
model's floor back instead of synthesising with the base again, a retrain reads the new model's
scores, and a change of anything the scores depend on scores afresh."""

import json

import provoice.voice_models.model_evaluation as model_evaluation
from provoice import synthetic
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.views import Evaluation
from provoice.voice_models.export import export_generator
from provoice.voice_models.kept_scores import keep_scores, read_scores, scores_key
from provoice.voice_models.model_evaluation import evaluate_model
from provoice.voice_models.model_store import MODELS_PREFIX
from provoice.voice_models.registry import BaseModelRegistry


def _manifest(storage: Storage, wav, name: str) -> str:
    """Five rows of one spoken clip (one of them held out), under the manifest key of a dataset version."""
    rows = [
        {"id": f"{name}-{i}", "audio_uri": storage.uri("clips/s.wav"), "start": 0.0, "end": 2.5, "text": "x"}
        for i in range(5)
    ]
    storage.write_bytes("clips/s.wav", wav.read_bytes())
    return storage.write_bytes(f"datasets/ds_1/{name}/manifest.jsonl", "\n".join(map(json.dumps, rows)).encode())


def _fine_tuned(settings: Settings, model_id: str) -> None:
    """A "fine-tuned" model: the tiny base's weights exported under a model id of its own."""
    generator, _, meta = BaseModelRegistry(settings).load("tiny-base", with_discriminator=False)
    metadata = {"base_model": meta.to_json(), "base_model_id": "tiny-base"}
    export_generator(
        Storage.from_settings(settings), MODELS_PREFIX, model_id, generator, meta.phoneme_id_map, metadata=metadata
    )


def test_a_model_is_scored_once_per_dataset_version_and_settings(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("PROVOICE_EVAL_SENTENCES", "1")
    settings = Settings()
    storage = Storage.from_settings(settings)
    BaseModelRegistry(settings).create_random("tiny-base", tiny=True)
    _fine_tuned(settings, "tiny-base/pvc-1")
    _fine_tuned(settings, "tiny-base/pvc-2")
    version_1 = _manifest(storage, synthetic.speak(synthetic.SENTENCES[0], tmp_path / "s.wav"), "v1")
    synthesised: list[str] = []

    def spied(generator, meta, *args, **kwargs):
        synthesised.append(meta.id)
        return synthesize(generator, meta, *args, **kwargs)

    synthesize = model_evaluation.synthesize
    monkeypatch.setattr(model_evaluation, "synthesize", spied)

    first = evaluate_model(settings, "tiny-base/pvc-1", version_1)
    assert synthesised == ["tiny-base/pvc-1", "tiny-base"]
    synthesised.clear()
    second = evaluate_model(settings, "tiny-base/pvc-2", version_1)  # a second PVC on the same dataset version
    assert synthesised == ["tiny-base/pvc-2"]
    assert second.base.model_dump() == first.base.model_dump() and second.base.sentences == first.base.sentences
    assert second.ceiling_similarity == first.ceiling_similarity
    synthesised.clear()
    paired = evaluate_model(settings, "tiny-base/pvc-2", version_1, with_references=False)  # a retrain's pairing
    assert synthesised == [] and paired.wer == second.wer and paired.sentences == second.sentences

    # Another dataset version, other seeds: the base model is scored afresh.
    version_2 = _manifest(storage, synthetic.speak(synthetic.SENTENCES[1], tmp_path / "t.wav"), "v2")
    evaluate_model(settings, "tiny-base", version_2)
    monkeypatch.setenv("PROVOICE_EVAL_SEEDS", "2")
    evaluate_model(Settings(), "tiny-base", version_1)
    assert synthesised == ["tiny-base"] * 3


def test_every_input_of_the_scores_is_in_their_key(settings):
    held = [{"id": "a", "audio_uri": "file:///a.wav", "start": 0.0, "end": 1.0}]
    inputs = dict(
        model_id="m", fingerprint="f", manifest_uri="u", held_rows=held, sentences=["s"], seeds=[0], beam_size=5
    )
    changed_inputs = [
        {"model_id": "n"},
        {"fingerprint": "g"},
        {"manifest_uri": "v"},
        {"held_rows": [{**held[0], "end": 2.0}]},
        {"sentences": ["t"]},
        {"seeds": [1]},
        {"beam_size": 1},
    ]
    changed_settings = [{"asr_compute_type": "float32"}, {"asr_model": "/models/base.en"}, {"device": "cuda"}]
    keys = {scores_key(settings, **inputs).digest}
    keys |= {scores_key(settings, **{**inputs, **change}).digest for change in changed_inputs}
    keys |= {scores_key(settings.model_copy(update=change), **inputs).digest for change in changed_settings}
    assert len(keys) == 1 + len(changed_inputs) + len(changed_settings)
    assert scores_key(settings, **inputs) == scores_key(Settings(), **inputs)


def test_kept_scores_come_back_whole(settings):
    storage = Storage.from_settings(settings)
    key = scores_key(
        settings, model_id="m", fingerprint="f", manifest_uri="u", held_rows=[], sentences=["s"], seeds=[0], beam_size=5
    )
    assert read_scores(storage, key) is None
    made = Evaluation(
        wer=1 / 3, speaker_similarity=None, dnsmos=3.123456789, wer_by_seed=[0.25, 0.5], sentences=[{"text": "s"}]
    )
    keep_scores(storage, key, made)
    kept = read_scores(storage, key)
    assert (kept.wer, kept.dnsmos, kept.wer_by_seed, kept.sentences) == (
        1 / 3,
        3.123456789,
        [0.25, 0.5],
        made.sentences,
    )
