from provoice.asr.whisper import load_model, transcribe_one, transcribe_segments
from provoice.audio.convert import convert
from provoice.audio.vad import segment
from provoice.audio.wavio import read_slice
from provoice.settings import Settings
from tests.conftest import MAIN_TEXT, wer


def test_batched_transcripts_match_source_text(speech_dir, tmp_path):
    convert(speech_dir / "main.wav", tmp_path / "o.wav", tmp_path / "o16.wav")
    bounds = segment(tmp_path / "o16.wav").segments
    model = load_model(Settings().asr_model)
    assert load_model(Settings().asr_model) is model
    batched = transcribe_segments(model, tmp_path / "o16.wav", bounds, batch_size=2)
    assert len(batched) == len(bounds)
    text = " ".join(t.text for t in batched)
    assert wer(" ".join(MAIN_TEXT), text) < 0.35, text
    assert all(t.no_speech_prob < 0.5 and t.avg_logprob > -1.0 for t in batched)
    assert all(0.0 <= t.transcript_accuracy <= 1.0 for t in batched)
    single = " ".join(transcribe_one(model, read_slice(tmp_path / "o16.wav", a, b)).text for a, b in bounds)
    assert wer(" ".join(MAIN_TEXT), text) <= wer(" ".join(MAIN_TEXT), single) + 0.1


def test_trimmed_window_matches_the_padded_path(speech_dir, tmp_path):
    convert(speech_dir / "main.wav", tmp_path / "o.wav", tmp_path / "o16.wav")
    bounds = segment(tmp_path / "o16.wav").segments
    model = load_model(Settings().asr_model)
    trimmed = transcribe_segments(model, tmp_path / "o16.wav", bounds, batch_size=8, trim_window=True)
    padded = transcribe_segments(model, tmp_path / "o16.wav", bounds, batch_size=8, trim_window=False)
    assert len(trimmed) == len(padded) == len(bounds)
    reference = " ".join(MAIN_TEXT)
    assert wer(reference, " ".join(t.text for t in trimmed)) <= wer(reference, " ".join(p.text for p in padded)) + 0.1
    assert all(t.no_speech_prob < 0.5 and t.avg_logprob > -1.0 for t in trimmed)
