"""A speaker embedding from a reference clip, the same kind the dataset's speaker check uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from provoice.errors import CorruptAudio, InvalidSource, NotEnoughSpeech

EMBEDDING_RATE = 16000
#: A reference clip is a few seconds of speech; longer ones only cost time.
MAX_REFERENCE_S = 60.0


def read_16k(path: str | Path) -> np.ndarray:
    """Mono float32 audio at 16 kHz from any format ffmpeg decodes (first minute at most)."""
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

    path = Path(path)
    if not path.is_file():
        raise InvalidSource(f"reference clip {path} does not exist")
    try:
        clip = AudioSegment.from_file(str(path), duration=MAX_REFERENCE_S)
    except (CouldntDecodeError, IndexError, OSError) as exc:
        raise CorruptAudio(f"reference clip {path.name} cannot be decoded as audio: {exc}") from exc
    clip = clip.set_channels(1).set_frame_rate(EMBEDDING_RATE).set_sample_width(2)
    return np.frombuffer(clip.raw_data, dtype="<i2").astype(np.float32) / 32768.0


def reference_embedding(path: str | Path, device: str = "cpu") -> np.ndarray:
    """Unit-length 256-d resemblyzer embedding of the clip's voice."""
    from provoice.quality.speaker import embed, load_encoder

    embedding = embed(load_encoder(device), read_16k(path))
    if embedding is None:
        raise NotEnoughSpeech(f"reference clip {Path(path).name} has too little speech for a voice embedding")
    return embedding.astype(np.float32)
