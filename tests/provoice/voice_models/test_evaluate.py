import numpy as np
import pytest

from provoice import synthetic
from provoice.asr.whisper import load_model
from provoice.audio.resample import to_16k
from provoice.audio.wavio import read_slice
from provoice.quality.speaker import load_encoder, voice_of
from provoice.settings import Settings
from provoice.voice_models.evaluate import (
    dnsmos_overall,
    dnsmos_windows,
    evaluate,
    load_dnsmos,
    split_held_out,
    word_error_rate,
)


def test_real_speech_scores_well_and_noise_scores_badly(tmp_path):
    def espeak(text: str):
        path = synthetic.speak(text, tmp_path / "s.wav")
        return read_slice(path, 0, 1e9), 22050

    def noise(text: str):
        return np.random.default_rng(0).uniform(-0.3, 0.3, 22050 * 2).astype(np.float32), 22050

    refs = [to_16k(espeak(s)[0], 22050) for s in synthetic.SENTENCES[:3]]
    asr, enc = load_model(Settings().asr_model), load_encoder("cpu")
    voice = voice_of(enc, refs)
    good = evaluate(espeak, asr, enc, voice, sentences=synthetic.SENTENCES[5:7])
    bad = evaluate(noise, asr, enc, voice, sentences=synthetic.SENTENCES[5:7])
    assert good.wer < 0.35 and good.speaker_similarity > 0.85
    assert bad.wer > 0.8 and bad.speaker_similarity < good.speaker_similarity
    assert good.dnsmos > bad.dnsmos
    assert set(good.summary()) == {"wer", "speaker_similarity", "dnsmos"}


def test_wer_and_split_are_deterministic():
    assert word_error_rate("Hello, World!", "hello world") == 0.0
    assert word_error_rate("a b c d", "") == 1.0
    rows = [{"id": f"f_{i:04d}"} for i in range(20)]
    train, held = split_held_out(rows, 4)
    assert len(held) == 4 and not {r["id"] for r in train} & {r["id"] for r in held}
    assert split_held_out(list(reversed(rows)), 4)[1] == sorted(held, key=lambda r: r["id"], reverse=True)
    assert len(split_held_out(rows[:9], 8)[1]) == 1 and split_held_out(rows[:1], 8)[1] == []


def test_dnsmos_is_speechmos_own_overall_score(tmp_path):
    """One P.835 batch over speechmos's windows gives speechmos's number (a clip doubled to one window,
    one doubled to three), and its windows are speechmos's: of 17.6 s, its float bounds make the
    eighth window one sample short, and it skips that one."""
    speech = to_16k(read_slice(synthetic.speak(synthetic.SENTENCES[0], tmp_path / "s.wav"), 0, 1e9), 22050)
    for seconds in (2.3, 3.0):
        clip = np.resize(speech, int(seconds * 16000))
        assert dnsmos_overall(clip) == pytest.approx(load_dnsmos()(clip, 16000, False)["ovrl_mos"], abs=1e-4)
    assert len(dnsmos_windows(np.zeros(int(4.4 * 16000), np.float32))) == 7
