"""Speaker consistency: resemblyzer embeddings compared with the dataset's dominant voice."""

from __future__ import annotations

import collections
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from provoice.loading import once_per_process


@once_per_process(maxsize=2)
def load_encoder(device: str = "cpu"):
    """resemblyzer's VoiceEncoder (weights ship in the package), once per process."""
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device=device, verbose=False)


def embed(encoder, x16k: np.ndarray) -> np.ndarray | None:
    """A unit-length 256-d embedding of 16 kHz float audio, or None if too little voice remains."""
    from resemblyzer import preprocess_wav

    wav = preprocess_wav(x16k.astype(np.float32), source_sr=16000)
    if wav.size < 16000 * 0.5:
        return None
    e = encoder.embed_utterance(wav)
    return e / (np.linalg.norm(e) + 1e-9)


#: Partial windows (1.6 s each) per LSTM forward in `embed_many`. The LSTM keeps its gates for
#: every frame (windows x 160 x 1024 floats: 21 MB here, 168 MB at 256, which a 3-hour preparation
#: felt in its peak memory); larger groups were no faster per window on one thread.
PARTIALS_PER_FORWARD = 32


def embed_many(encoder, clips16k: Iterable[np.ndarray]) -> list[np.ndarray | None]:
    """`embed` of every clip, the partial windows of many clips going through the LSTM together.

    resemblyzer runs one forward per utterance, a batch of about a dozen 1.6 s windows; forwarding
    the windows of many segments at once gives the same embeddings (to float rounding) for less.
    The forwards run on one process-wide pool of one thread per core, each capped at one OpenMP
    thread: torch's OpenMP team spins at its barriers whenever another thread holds a core, and
    preparation keeps every core busy (Whisper, ffmpeg, other files), which made two-thread
    forwards 5–7x slower than one here. Clips are read as they come and at most two groups per
    pool thread are in flight, so memory does not grow with the file. Slicing and padding are
    those of `VoiceEncoder.embed_utterance`."""
    from resemblyzer import preprocess_wav
    from resemblyzer.audio import wav_to_mel_spectrogram

    sums: list[np.ndarray | None] = []
    counts: list[int] = []
    windows: list[np.ndarray] = []
    owners: list[int] = []
    pending: collections.deque = collections.deque()
    pool = _forward_pool()

    def collect() -> None:
        group, future = pending.popleft()
        for owner, p in zip(group, future.result()):
            sums[owner] = p if sums[owner] is None else sums[owner] + p

    def submit() -> None:
        if windows:
            pending.append((list(owners), pool.submit(_forward, encoder, np.asarray(windows))))
            windows.clear()
            owners.clear()
        while len(pending) > 2 * (os.cpu_count() or 1):
            collect()

    for clip in clips16k:
        sums.append(None)
        counts.append(0)
        wav = preprocess_wav(clip.astype(np.float32), source_sr=16000)
        if wav.size < 16000 * 0.5:
            continue
        wav_slices, mel_slices = encoder.compute_partial_slices(len(wav), rate=1.3, min_coverage=0.75)
        if wav_slices[-1].stop >= len(wav):
            wav = np.pad(wav, (0, wav_slices[-1].stop - len(wav)), "constant")
        mel = wav_to_mel_spectrogram(wav)
        windows.extend(mel[s] for s in mel_slices)
        owners.extend([len(sums) - 1] * len(mel_slices))
        counts[-1] = len(mel_slices)
        if len(windows) >= PARTIALS_PER_FORWARD:
            submit()
    submit()
    while pending:
        collect()
    out: list[np.ndarray | None] = []
    for total, n in zip(sums, counts):
        if total is None:
            out.append(None)
            continue
        e = total / n
        e = e / np.linalg.norm(e, 2)
        out.append(e / (np.linalg.norm(e) + 1e-9))
    return out


@once_per_process()
def _forward_pool() -> ThreadPoolExecutor:
    """The threads every `embed_many` of this process forwards on: one per core, kept, so that
    concurrent files share the cores instead of each bringing threads (and malloc arenas) of its own."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="speaker-embed")


def _forward(encoder, windows: np.ndarray) -> np.ndarray:
    """Partial embeddings of a group of mel windows on this thread's cores alone (see `embed_many`):
    one OpenMP thread for this pool thread only; other threads keep torch's setting."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.get_num_threads()  # torch sets this thread's OpenMP team on first use: let it, then cap it
    with threadpool_limits(1, user_api="openmp"), torch.no_grad():
        return encoder(torch.from_numpy(windows).to(encoder.device)).cpu().numpy()


def mean_direction(embeddings) -> np.ndarray | None:
    """The unit-length mean of unit embeddings (None without any): one voice from several clips."""
    found = [e for e in embeddings if e is not None]
    if not found:
        return None
    mean = np.mean(found, axis=0)
    return (mean / (np.linalg.norm(mean) + 1e-9)).astype(np.float32)


def voice_of(encoder, clips16k) -> np.ndarray | None:
    """The speaker embedding of a set of 16 kHz clips (None if none has enough voice)."""
    return mean_direction(embed(encoder, c) for c in clips16k)


def dominant_speaker(embeddings: np.ndarray, threshold: float, weights: np.ndarray | None = None) -> np.ndarray:
    """The centroid of the largest group of mutually similar embeddings.

    Each embedding counts the (duration-weighted) others within `threshold` cosine of it; the
    centroid of the best-connected one's neighbourhood is the dataset's voice, so a minority of
    another speaker cannot pull it away.
    """
    e = embeddings / (np.linalg.norm(embeddings, axis=1, keepdims=True) + 1e-9)
    w = np.ones(len(e)) if weights is None else np.asarray(weights, dtype=float)
    sims = e @ e.T
    support = (sims >= threshold) @ w
    best = int(np.argmax(support))
    members = sims[best] >= threshold
    c = (e[members] * w[members, None]).sum(axis=0)
    return c / (np.linalg.norm(c) + 1e-9)


def similarities(embeddings: np.ndarray, centroid: np.ndarray) -> np.ndarray:
    e = embeddings / (np.linalg.norm(embeddings, axis=1, keepdims=True) + 1e-9)
    return e @ centroid
