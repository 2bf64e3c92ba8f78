import contextlib

import numpy as np
import pytest

import provoice.pvc.voices as voices

pytestmark = pytest.mark.both_databases


class FakeStorage:
    def key_of(self, uri):
        return uri

    @contextlib.contextmanager
    def local_path(self, key):
        yield key


def test_one_clip_per_file_with_maximal_spread(monkeypatch):
    directions = {"a": [1, 0, 0], "b": [0.99, 0.14, 0], "c": [0, 1, 0], "d": [0, 0, 1], "e": [0.7, 0.7, 0]}
    rows = []
    for f in directions:
        for k in range(2):
            rows.append(
                {
                    "id": f"{f}{k}",
                    "file_id": f,
                    "audio_uri": f,
                    "start": float(k),
                    "end": k + 4.0,
                    "duration": 4.0,
                    "metrics": {
                        "speaker_similarity": 0.9 + (0.05 if f == "a" else 0),
                        "snr_db": 40,
                        "avg_logprob": -0.1,
                    },
                }
            )
    monkeypatch.setattr(voices, "read_wav_info", lambda wav: (16000, 0))
    monkeypatch.setattr(voices, "read_slice", lambda wav, a, b: np.array([ord(wav)], dtype=np.float32))
    monkeypatch.setattr(voices, "to_16k", lambda x, rate: x)

    def fake_embed(encoder, x):
        v = np.asarray(directions[chr(int(x[0]))], dtype=np.float32)
        return v / np.linalg.norm(v)

    monkeypatch.setattr(voices, "embed", fake_embed)
    chosen = voices.choose_clips(FakeStorage(), rows, encoder=None, count=4)
    files = [c["row"]["file_id"] for c in chosen]
    assert files[0] == "a" and set(files) == {"a", "c", "d", "e"}
    assert len(voices.choose_clips(FakeStorage(), [r for r in rows if r["file_id"] in "ab"], None)) == 2
