from provoice.audio.convert import convert
from provoice.audio.wavio import read_slice
from provoice.quality.speaker import embed, load_encoder


def test_resemblyzer_separates_two_voices(speech_dir, tmp_path):
    enc = load_encoder("cpu")
    emb = {}
    for name in ("main", "other"):
        convert(speech_dir / f"{name}.wav", tmp_path / "o.wav", tmp_path / f"{name}16.wav")
        x = read_slice(tmp_path / f"{name}16.wav", 0, 1e9)
        half = len(x) // 2 / 16000
        emb[name] = (
            embed(enc, read_slice(tmp_path / f"{name}16.wav", 0, half)),
            embed(enc, read_slice(tmp_path / f"{name}16.wav", half, 1e9)),
        )
    same = float(emb["main"][0] @ emb["main"][1])
    different = float(emb["main"][0] @ emb["other"][0])
    assert same > 0.8 and different < 0.75, (same, different)
