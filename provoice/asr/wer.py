"""Word error rate the way the product counts it everywhere (evaluation, consent, benchmarks)."""

from __future__ import annotations

from provoice.loading import once_per_process


@once_per_process()
def _english_normaliser():
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalise(text: str) -> str:
    """Whisper's English text normaliser (the one its published WERs use): lower case, no
    punctuation, numbers as digits ("twenty" and "20" agree), British spellings as American
    ("neighbours" and "neighbors" agree), contractions expanded. Without it, a transcript in the
    other spelling or numerals counts as wrong words for the real speaker and every model alike."""
    return " ".join(_english_normaliser()(text).split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER after `normalise`; an empty reference scores 0 against an empty hypothesis, else 1."""
    import jiwer

    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(jiwer.wer(ref, hyp)) if hyp else 1.0
