"""Text front-end: normalised text → sentences → espeak phonemes → Piper phoneme ids."""

from provoice.tts.text.frontend import MAX_SENTENCE_CHARS, PhonemeMap, TextFrontEnd, split_sentences
from provoice.tts.text.normalize import normalize_text

__all__ = ["MAX_SENTENCE_CHARS", "PhonemeMap", "TextFrontEnd", "normalize_text", "split_sentences"]
