"""The estimated share of words a transcript got right, from Whisper's own word probabilities.

A word's probability is the product of its tokens' under greedy decoding. A word the model gives
at least even odds (`SURE_WORD_PROBABILITY`) is its majority reading and counts as right; the
share of such words estimates a segment's word accuracy. On the bench's takes it lands within
about a point of the measured accuracy per file, where the mean word probability reads 7 points
low (bench/transcript_accuracy.py, docs/BENCHMARKS.md). Over many segments the estimate is
weighted by word count, so a long segment counts as many words as it holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SURE_WORD_PROBABILITY = 0.5


def segment_accuracy(word_probabilities: Sequence[float]) -> float | None:
    """Share of a segment's words the model was at least even odds on; None without words."""
    if not word_probabilities:
        return None
    sure = sum(1 for p in word_probabilities if p >= SURE_WORD_PROBABILITY)
    return round(sure / len(word_probabilities), 4)


def expected_accuracy(segments: Iterable[tuple[str, float | None]]) -> float | None:
    """Word-weighted mean of (text, segment accuracy) pairs; None when no segment has an estimate."""
    words = total = 0.0
    for text, accuracy in segments:
        n = len(text.split())
        if accuracy is None or n == 0:
            continue
        words += n
        total += n * accuracy
    return round(total / words, 4) if words else None
