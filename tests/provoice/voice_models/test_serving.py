"""Serving synthesis: onnxruntime where a fine-tuned model has its voice graph, equal to torch."""

from __future__ import annotations

import numpy as np

from provoice.tts import synthesize
from provoice.voice_models import load_for_inference, load_synthesizer
from tests.conftest import served_model

TEXT = "The first sentence is here. And a second one follows it."


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    assert abs(len(a) - len(b)) <= 256
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def test_onnx_serves_every_voice_of_a_model_as_torch_would(settings):
    model_id = served_model(settings)
    synth = load_synthesizer(settings, model_id)
    assert synth.backend == "onnxruntime" and synth.onnx.takes_g
    assert load_synthesizer(settings, model_id).onnx is synth.onnx  # one session per model and process
    generator, meta = load_for_inference(settings, model_id)
    rng = np.random.default_rng(0)
    voices = [rng.standard_normal(256).astype(np.float32) for _ in range(2)]
    heard = []
    for voice in voices:
        ours = np.concatenate([a for _, a in synth.onnx.sentences(TEXT, voice, noise_scale=0.0, noise_w=0.0)])
        theirs, _ = synthesize(generator, meta, TEXT, voice, noise_scale=0.0, noise_w=0.0)
        assert _corr(ours, theirs) >= 0.99
        heard.append(ours)
    n = min(map(len, heard))
    assert len(heard[0]) != len(heard[1]) or np.abs(heard[0][:n] - heard[1][:n]).max() > 0.1 * np.abs(heard[0]).max()
    pieces = list(synth.sentences(TEXT, voices[0]))
    assert len(pieces) == 2 and all(a.dtype == np.float32 and np.abs(a).max() <= 1.0 for _, a in pieces)


def test_what_onnxruntime_cannot_honour_goes_to_torch(settings):
    model_id = served_model(settings)
    synth = load_synthesizer(settings, model_id)
    generator, meta = load_for_inference(settings, model_id)
    voice = np.random.default_rng(1).standard_normal(256).astype(np.float32)
    seeded, _ = synth.synthesize(TEXT, voice, seed=4)  # the graph draws its own noise: torch
    assert np.array_equal(seeded, synthesize(generator, meta, TEXT, voice, seed=4)[0])
    unvoiced, _ = synth.synthesize(TEXT, seed=None)  # no voice: torch skips the conditioning
    assert unvoiced.size > 0
    assert load_synthesizer(settings, "tiny-base").backend == "torch"  # a base model without a graph


def test_word_times_come_from_the_same_durations_on_onnxruntime_and_torch(settings, monkeypatch):
    """The served graph outputs its phoneme durations; torch gives the same, so both time words alike."""
    from provoice.tts import synthesize_timed

    model_id = served_model(settings, quiet=True)
    synth = load_synthesizer(settings, model_id)
    assert synth.onnx.timed
    voice = np.random.default_rng(2).standard_normal(256).astype(np.float32)
    ours = list(synth.timed_sentences(TEXT, voice, speed=0.5))
    generator, meta = load_for_inference(settings, model_id)
    theirs = list(synthesize_timed(generator, meta, TEXT, voice, length_scale=synth.length_scale(0.5)))
    assert (
        [p.text for p in ours]
        == [p.text for p in theirs]
        == ["The first sentence is here.", "And a second one follows it."]
    )
    for a, b in zip(ours, theirs):
        assert [w.word for w in a.words] == a.text.split()
        assert [(w.start, w.end) for w in a.words] == [(w.start, w.end) for w in b.words]
        assert all(w.start < w.end <= a.audio.size / meta.sample_rate + 1e-3 for w in a.words)
        assert all(x.end <= y.start + 1e-9 for x, y in zip(a.words, a.words[1:]))
    assert ours[1].words[0].start >= 0.25  # after the pause that leads every sentence but the first
