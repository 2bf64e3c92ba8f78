"""Names people give things (datasets, PVCs, uploaded files), made safe to show anywhere.

Control characters (NUL, escapes), bidirectional overrides and other invisible format characters
are dropped, whitespace runs become one space, and the length is bounded, so a name can neither
break a terminal or a table nor disguise itself (a right-to-left override makes "gpj.exe" look
like "exe.jpg"). Names are only ever shown: storage keys never come from them.
"""

from __future__ import annotations

import re
import unicodedata

from provoice.errors import InvalidSource

MAX_NAME_CHARS = 200
MAX_FILE_NAME_CHARS = 255
MAX_DESCRIPTION_CHARS = 5000


def clean_text(text: str, max_chars: int, *, keep_newlines: bool = False) -> str:
    text = unicodedata.normalize("NFC", text)
    out = []
    for ch in text:
        if keep_newlines and ch == "\n":
            out.append(ch)
        elif ch.isspace():
            out.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(ch)
    cleaned = "".join(out)
    lines = [" ".join(line.split()) for line in cleaned.split("\n")] if keep_newlines else [" ".join(cleaned.split())]
    return "\n".join(lines).strip()[:max_chars].rstrip()


def display_name(text: str, what: str = "name", max_chars: int = MAX_NAME_CHARS) -> str:
    """A cleaned, bounded name; an empty result is refused (a name of only invisible characters)."""
    cleaned = clean_text(text, max_chars)
    if not cleaned:
        raise InvalidSource(f"the {what} is empty once control and invisible characters are removed")
    return cleaned


def file_name(text: str) -> str:
    """An uploaded file's name as shown; never empty (falls back to "upload")."""
    return clean_text(text, MAX_FILE_NAME_CHARS) or "upload"


def description(text: str) -> str:
    return clean_text(text, MAX_DESCRIPTION_CHARS, keep_newlines=True)


SAFE_STEM_CHARS = 100


def safe_file_stem(text: str, fallback: str = "voice") -> str:
    """A file name stem made from a name people gave: ASCII letters, digits, '_', '-' and '.', starting
    with a letter or digit, so no name (`../x`, `a/b`, control characters) can reach outside a folder."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_text)
    stem = re.sub(r"\.{2,}", ".", stem)
    stem = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", stem)[:SAFE_STEM_CHARS].rstrip("._-")
    return stem or fallback
