"""Synthesis with a tiny random model: sentence by sentence, plausible lengths, conditioning,
clear errors, and models loaded once per process."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from provoice.tts.errors import EmptyText, ModelMismatch
from provoice.tts.formats.base_meta import BaseModelMeta, InferenceScales
from provoice.tts.model.config import VitsConfig
from provoice.tts.model.synthesizer import SynthesizerTrn
from provoice.tts.synthesis import synthesize
from provoice.tts.text.frontend import PhonemeMap
from provoice.voice_models.model_store import load_for_inference
from provoice.voice_models.registry import BaseModelRegistry


def tiny(gin_channels: int = 0) -> tuple[SynthesizerTrn, BaseModelMeta]:
    torch.manual_seed(0)
    config = VitsConfig.tiny(gin_channels=gin_channels)
    meta = BaseModelMeta(
        id="tiny",
        config=config,
        phoneme_id_map=PhonemeMap.espeak_default().to_dict(),
        sample_rate=22050,
        espeak_voice="en-us",
        inference=InferenceScales(),
        source={"kind": "test"},
        created_at="",
        discriminator="fresh",
        fingerprint="",
    )
    return SynthesizerTrn(config).eval(), meta


def test_audio_length_follows_the_text(single_thread):
    generator, meta = tiny()
    one, rate = synthesize(generator, meta, "Hello world.", seed=0)
    assert rate == 22050 and one.dtype == np.float32 and one.ndim == 1
    assert np.all(np.abs(one) <= 1.0) and np.isfinite(one).all()
    ids = meta.front_end().sentence_ids("Hello world.")[0]
    hop = meta.config.hop_length
    assert len(ids) * hop <= len(one) <= 20 * len(ids) * hop, "every id lasts at least one frame"

    quiet = {"noise_scale": 0.0, "noise_w": 0.0}
    one, _ = synthesize(generator, meta, "Hello world.", **quiet)
    three, _ = synthesize(generator, meta, "Hello world. Hello world. Hello world.", sentence_pause_s=0.5, **quiet)
    assert len(three) == 3 * len(one) + 2 * int(0.5 * rate), "each sentence alone, joined by pauses"
    assert np.array_equal(three[-len(one) :], one) and not three[len(one) : len(one) + int(0.5 * rate)].any()
    slow, _ = synthesize(generator, meta, "Hello world.", length_scale=2.0, **quiet)
    assert len(slow) > 1.5 * len(one)


def test_seed_makes_synthesis_repeatable(single_thread):
    generator, meta = tiny()
    a, _ = synthesize(generator, meta, "Repeat after me.", seed=5)
    b, _ = synthesize(generator, meta, "Repeat after me.", seed=5)
    assert np.array_equal(a, b)


def test_embedding_conditions_only_models_that_take_one(single_thread):
    generator, meta = tiny(gin_channels=8)
    torch.nn.init.normal_(generator.voice.cond_proj.weight, std=1.0)
    first, second = np.random.default_rng(0).normal(size=(2, 256)).astype(np.float32)
    a, _ = synthesize(generator, meta, "A voice.", first, seed=1, noise_scale=0.0, noise_w=0.0)
    b, _ = synthesize(generator, meta, "A voice.", second, seed=1, noise_scale=0.0, noise_w=0.0)
    assert len(a) != len(b) or not np.allclose(a, b)
    with pytest.raises(ModelMismatch, match="has 3 values; this model takes 256"):
        synthesize(generator, meta, "A voice.", np.zeros(3))

    plain, plain_meta = tiny()
    with_embedding, _ = synthesize(plain, plain_meta, "A voice.", first, seed=1)
    without, _ = synthesize(plain, plain_meta, "A voice.", seed=1)
    assert np.array_equal(with_embedding, without)


@pytest.mark.parametrize("text", ["", "   ", "🙂"])
def test_nothing_to_say(text):
    generator, meta = tiny()
    with pytest.raises(EmptyText):
        synthesize(generator, meta, text)


def test_models_are_loaded_once_per_process(settings):
    registry = BaseModelRegistry(settings)
    registry.create_random("tiny-a")
    generator, meta = load_for_inference(settings, "tiny-a")
    assert load_for_inference(settings, "latest")[0] is generator and meta.id == "tiny-a"
    audio, rate = synthesize(generator, meta, "Cached.", seed=0)
    assert rate == 22050 and audio.size > 0


def test_inference_folding_keeps_the_output():
    import torch

    from provoice.tts import for_inference
    from provoice.tts.model.config import VitsConfig
    from provoice.tts.model.synthesizer import SynthesizerTrn

    torch.manual_seed(0)
    model = SynthesizerTrn(VitsConfig.tiny()).eval()
    x, lengths = torch.randint(1, 50, (1, 10)), torch.tensor([10])
    before = model.infer(x, lengths, noise_scale=0.0, noise_w=0.0).audio
    after = for_inference(model).infer(x, lengths, noise_scale=0.0, noise_w=0.0).audio
    assert not any(n.endswith("weight_g") for n, _ in model.named_parameters())
    assert torch.allclose(before, after, atol=1e-5)
