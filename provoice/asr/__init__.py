"""Speech recognition with faster-whisper (Whisper in CTranslate2), and word error rate."""

from provoice.asr.confidence import expected_accuracy
from provoice.asr.wer import normalise, word_error_rate

__all__ = ["expected_accuracy", "normalise", "word_error_rate"]
