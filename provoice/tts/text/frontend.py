"""Text front-end: normalised text -> sentences -> espeak phonemes -> Piper phoneme ids.

Ids follow Piper exactly (BOS "^", then every phoneme followed by the pad "_", then EOS "$"), so
a Piper voice reads ProVoice ids the way it reads its own. Phonemes a voice's map lacks are
skipped and counted rather than failing the whole text.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from provoice.tts.errors import EmptyText
from provoice.tts.text.normalize import normalize_text

BOS, EOS, PAD = "^", "$", "_"
#: Longer sentences are cut at a comma or semicolon: attention cost grows with the square of length.
MAX_SENTENCE_CHARS = 400

#: espeak-ng keeps global state: one phonemisation at a time per process.
_ESPEAK_LOCK = threading.Lock()
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_INITIAL = re.compile(r"(?:^|\s)[A-Z]\.$")


def split_sentences(text: str) -> list[str]:
    """Sentences of already normalised text, end punctuation kept (espeak uses it for intonation)."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        piece = text[start : match.start()]
        if _INITIAL.search(piece):
            continue  # "J. Smith": an initial, not a sentence end
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    out: list[str] = []
    for sentence in sentences:
        out.extend(_cut_long(sentence))
    return [s for s in out if re.search(r"\w", s)]


def _cut_long(sentence: str) -> list[str]:
    pieces = []
    while len(sentence) > MAX_SENTENCE_CHARS:
        cut = max(sentence.rfind(p, 0, MAX_SENTENCE_CHARS) for p in (",", ";", ":"))
        if cut <= 0:
            cut = sentence.rfind(" ", 0, MAX_SENTENCE_CHARS)
        if cut <= 0:
            cut = MAX_SENTENCE_CHARS
        pieces.append(sentence[: cut + 1].strip())
        sentence = sentence[cut + 1 :].strip()
    pieces.append(sentence)
    return pieces


@dataclass
class PhonemeMap:
    """A voice's phoneme -> ids table (Piper's `phoneme_id_map`, each value a list of ids)."""

    ids_of: dict[str, list[int]]
    skipped: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        missing = [s for s in (BOS, EOS, PAD) if s not in self.ids_of]
        if missing:
            raise ValueError(f"phoneme_id_map lacks the special symbols {missing}")

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> PhonemeMap:
        """From JSON, where an id may be a list of ints or a bare int."""
        ids_of = {str(k): [int(v)] if isinstance(v, int) else [int(i) for i in v] for k, v in mapping.items()}
        return cls(ids_of)

    @classmethod
    def espeak_default(cls) -> PhonemeMap:
        """Piper's default espeak map (for checkpoints that carry none)."""
        from piper_phonemize import get_espeak_map

        return cls.from_dict(get_espeak_map())

    @property
    def max_id(self) -> int:
        return max(i for ids in self.ids_of.values() for i in ids)

    def to_dict(self) -> dict[str, list[int]]:
        return {k: list(v) for k, v in self.ids_of.items()}

    def ids(self, phonemes: Iterable[str]) -> list[int]:
        """Piper ids for one utterance's phonemes; unknown phonemes are skipped and counted."""
        pad = self.ids_of[PAD]
        out = list(self.ids_of[BOS]) + pad
        for phoneme in phonemes:
            ids = self.ids_of.get(phoneme)
            if ids is None:
                self.skipped[phoneme] += 1
                continue
            out.extend(ids)
            out.extend(pad)
        out.extend(self.ids_of[EOS])
        return out


@dataclass
class TextFrontEnd:
    """Everything between raw text and a voice's phoneme ids, for one phoneme map and espeak voice."""

    phoneme_map: PhonemeMap
    espeak_voice: str = "en-us"

    @classmethod
    def from_voice_config(cls, voice: Mapping[str, Any]) -> TextFrontEnd:
        """From a Piper voice JSON (`<voice>.onnx.json`) or a base model's meta with the same keys."""
        espeak = voice.get("espeak") or {}
        return cls(
            PhonemeMap.from_dict(voice["phoneme_id_map"]),
            espeak_voice=str(voice.get("espeak_voice") or espeak.get("voice") or "en-us"),
        )

    def sentences(self, text: str) -> list[str]:
        """Normalised sentences of `text`."""
        return split_sentences(normalize_text(text))

    def phonemes(self, text: str) -> list[list[str]]:
        """One phoneme list per spoken sentence; `EmptyText` when nothing in `text` can be said."""
        out = [phonemes for _, phonemes in self._spoken(text)]
        if not out:
            raise EmptyText(_empty_message(text))
        return out

    def _spoken(self, text: str) -> list[tuple[str, list[str]]]:
        """(normalised sentence, phonemes) per piece espeak speaks; a sentence espeak splits in two
        is named on its first piece only ("" on the rest)."""
        from piper_phonemize import phonemize_espeak

        out: list[tuple[str, list[str]]] = []
        for sentence in self.sentences(text):
            with _ESPEAK_LOCK:
                spoken = phonemize_espeak(sentence, self.espeak_voice)
            pieces = [list(phonemes) for phonemes in spoken if any(p.strip() for p in phonemes)]
            out.extend((sentence if i == 0 else "", phonemes) for i, phonemes in enumerate(pieces))
        return out

    def sentence_units(self, text: str) -> list[tuple[str, list[int]]]:
        """(normalised sentence, phoneme ids) per piece synthesis speaks on its own, so a stream can
        say which part of the text each piece of audio carries."""
        units = [(sentence, self.phoneme_map.ids(phonemes)) for sentence, phonemes in self._spoken(text)]
        units = [(sentence, ids) for sentence, ids in units if len(ids) > 3]
        if not units:
            raise EmptyText(_empty_message(text))
        return units

    def sentence_ids(self, text: str) -> list[list[int]]:
        """Phoneme ids per sentence, for synthesis (each sentence is spoken on its own)."""
        return [ids for _, ids in self.sentence_units(text)]

    def phoneme_ids(self, text: str) -> list[int]:
        """One id sequence for a whole utterance (a training transcript), as Piper's preprocessing
        makes it: the sentences' phonemes joined, then mapped once."""
        ids = self.phoneme_map.ids(p for sentence in self.phonemes(text) for p in sentence)
        if len(ids) <= 3:
            raise EmptyText(_empty_message(text))
        return ids


def _empty_message(text: str) -> str:
    if not text.strip():
        return "the text is empty: give at least one word to speak"
    shown = text if len(text) <= 40 else text[:37] + "..."
    return f"nothing to speak in {shown!r}: it has no words this voice can pronounce"
