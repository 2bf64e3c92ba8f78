"""Text normalisation: digits, money, dates, times, abbreviations and symbols become words.

espeak would read many of these itself, but inconsistently ("$3.50" as "dollar three point five
zero", "Dr." as a sentence end), and the model was trained on words. Rules run in a fixed order,
most specific first, so "$3.50" never reaches the plain-decimal rule.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

from provoice.tts.text import numbers

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH_ALIASES = {m.lower(): i for i, m in enumerate(MONTHS, 1)}
_MONTH_ALIASES.update({m[:3].lower(): i for i, m in enumerate(MONTHS, 1)})
_MONTH_ALIASES["sept"] = 9
_MONTH_NAME = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
)

_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "sen", "sen"),
}
_SCALE_WORDS = r"thousand|million|billion|trillion"

#: (pattern, replacement, may end a sentence); when it may and does, its "." is kept.
_ABBREVIATIONS: tuple[tuple[str, str, bool], ...] = (
    (r"\be\.g\.", "for example", False),
    (r"\bi\.e\.", "that is", False),
    (r"\betc\.", "et cetera", True),
    (r"\bvs\.", "versus", False),
    (r"\bMrs\.", "Missus", False),
    (r"\bMr\.", "Mister", False),
    (r"\bMs\.", "Miz", False),
    (r"\bProf\.", "Professor", False),
    (r"\bJr\.", "Junior", True),
    (r"\bSr\.", "Senior", True),
    (r"\bMt\.", "Mount", False),
    (r"\bapprox\.", "approximately", False),
    (r"\bNo\.(?=\s*\d)", "number", False),
    (r"\bU\.S\.A\.", "U S A", True),
    (r"\bU\.S\.", "U S", True),
    (r"\bU\.K\.", "U K", True),
)
#: Titles read one way before a name and another after a street name ("St. Paul" / "Main St.").
_TITLES = {"Dr.": ("Doctor", "Drive"), "St.": ("Saint", "Street")}
#: Capitalised words that start a sentence rather than name someone ("Elm St. He said").
_SENTENCE_STARTERS = frozenset(
    {
        "A",
        "An",
        "And",
        "As",
        "At",
        "But",
        "He",
        "Her",
        "His",
        "I",
        "If",
        "In",
        "It",
        "Its",
        "My",
        "No",
        "Our",
        "She",
        "So",
        "That",
        "The",
        "Then",
        "There",
        "These",
        "They",
        "This",
        "We",
        "What",
        "When",
        "Where",
        "Why",
        "You",
    }
)

_SYMBOLS = {
    "&": " and ",
    "+": " plus ",
    "@": " at ",
    "%": " percent ",
    "=": " equals ",
    "×": " times ",
    "°": " degrees ",
    "~": " about ",
}
_PUNCTUATION_FIXES = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": ", ",
    "\u2014": ", ",
    "\u2026": "...",
}


def normalize_text(text: str) -> str:
    """Spoken form of `text`: every digit and known symbol written out, whitespace collapsed.

    A blank line ends a sentence even without a full stop (titles, list items).
    """
    text = re.sub(r"([^.!?:;,\s])[ \t]*\n[ \t]*\n", r"\1.\n", text)
    text = _clean(text)
    for rule in _RULES:
        text = rule(text)
    return re.sub(r"\s+", " ", text).strip()


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for src, dst in _PUNCTUATION_FIXES.items():
        text = text.replace(src, dst)
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in _SYMBOLS or ch in _CURRENCIES:
            kept.append(ch)
        elif category[0] == "C" or category == "So":
            kept.append(" ")  # control characters, emoji and pictographs are not read out
        else:
            kept.append(ch)
    return "".join(kept)


def _sentence_end(text: str, end: int) -> bool:
    """Whether the "." at text[end - 1] also ends a sentence (end of text or a capital follows)."""
    rest = text[end:]
    return not rest.strip() or bool(re.match(r"\s+[\"'(]*[A-Z]", rest))


def _expand(m: re.Match, words: str, may_end: bool) -> str:
    return words + ("." if may_end and _sentence_end(m.string, m.end()) else "")


def _abbreviations(text: str) -> str:
    for pattern, words, may_end in _ABBREVIATIONS:
        text = re.sub(pattern, functools.partial(_expand, words=words, may_end=may_end), text)

    def title(m: re.Match) -> str:
        before_name, after_name = _TITLES[m.group(0)]
        following = re.match(r"\s+([A-Z][\w']*)", m.string[m.end() :])
        if following and following.group(1) not in _SENTENCE_STARTERS:
            return before_name
        if re.search(r"[A-Z][a-z]+\s+$", m.string[: m.start()]):
            return after_name + ("." if _sentence_end(m.string, m.end()) else "")
        return before_name

    return re.sub(r"\b(?:Dr|St)\.", title, text)


def _month(name: str) -> int:
    return _MONTH_ALIASES[name.rstrip(".").lower()]


def _spoken_date(month: int, day: int, year: int | None) -> str:
    said = f"{MONTHS[month - 1]} {numbers.ordinal(day)}"
    return said + (f", {numbers.year(year)}" if year is not None else "")


def _dates(text: str) -> str:
    def iso(m: re.Match) -> str:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        return _spoken_date(mo, d, y) if 1 <= mo <= 12 and 1 <= d <= 31 else m.group(0)

    def slashed(m: re.Match) -> str:
        a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if len(m.group(3)) == 2:
            y += 2000 if y < 50 else 1900
        month, day = (a, b) if a <= 12 else (b, a)  # US month/day unless the first cannot be a month
        return _spoken_date(month, day, y) if 1 <= month <= 12 and 1 <= day <= 31 else m.group(0)

    def month_first(m: re.Match) -> str:
        day = int(m.group(2))
        if not 1 <= day <= 31:
            return m.group(0)
        return _spoken_date(_month(m.group(1)), day, int(m.group(3)) if m.group(3) else None)

    def day_first(m: re.Match) -> str:
        day = int(m.group(1))
        if not 1 <= day <= 31:
            return m.group(0)
        said = f"the {numbers.ordinal(day)} of {MONTHS[_month(m.group(2)) - 1]}"
        return said + (f", {numbers.year(int(m.group(3)))}" if m.group(3) else "")

    text = re.sub(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", iso, text)
    text = re.sub(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b", slashed, text)
    text = re.sub(rf"\b({_MONTH_NAME})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?", month_first, text)
    return re.sub(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_NAME})(?:,?\s+(\d{{4}})\b)?", day_first, text)


_MERIDIEM = r"(?:\s*(?P<ap>[ap])(?P<dot>\.)?m\b(?(dot)\.?))"


def _times(text: str) -> str:
    def said_meridiem(m: re.Match) -> str:
        if not m.group("ap"):
            return ""
        stop = "." if m.group(0).endswith(".") and _sentence_end(m.string, m.end()) else ""
        return f" {m.group('ap').upper()}M{stop}"

    def clock(m: re.Match) -> str:
        hour, minute = int(m.group("h")), int(m.group("m"))
        if hour > 23 or minute > 59:
            return m.group(0)
        if minute == 0:
            said = numbers.cardinal(hour) + ("" if m.group("ap") else " o'clock")
        elif minute < 10:
            said = f"{numbers.cardinal(hour)} oh {numbers.cardinal(minute)}"
        else:
            said = f"{numbers.cardinal(hour)} {numbers.cardinal(minute)}"
        return said + said_meridiem(m)

    def hour_only(m: re.Match) -> str:
        return numbers.cardinal(int(m.group("h"))) + said_meridiem(m)

    text = re.sub(rf"\b(?P<h>\d{{1,2}}):(?P<m>\d{{2}}){_MERIDIEM}?", clock, text, flags=re.IGNORECASE)
    return re.sub(rf"\b(?P<h>\d{{1,2}}){_MERIDIEM}", hour_only, text, flags=re.IGNORECASE)


def _money(text: str) -> str:
    def spoken(symbol: str, amount: str, scale: str | None) -> str:
        one, many, sub_one, sub_many = _CURRENCIES[symbol]
        whole_text, _, fraction = amount.replace(",", "").partition(".")
        whole = int(whole_text or "0")
        if scale:
            return f"{numbers.decimal(amount)} {scale} {many}"
        if fraction and len(fraction) != 2:
            return f"{numbers.decimal(amount)} {many}"
        cents = int(fraction) if fraction else 0
        parts = []
        if whole or not cents:
            parts.append(f"{numbers.cardinal(whole)} {one if whole == 1 else many}")
        if cents:
            parts.append(f"{numbers.cardinal(cents)} {sub_one if cents == 1 else sub_many}")
        return " and ".join(parts)

    symbols = re.escape("".join(_CURRENCIES))
    amount = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    scale = rf"(?:\s?({_SCALE_WORDS})\b)?"
    text = re.sub(rf"([{symbols}])\s?{amount}{scale}", lambda m: spoken(m.group(1), m.group(2), m.group(3)), text)
    return re.sub(rf"\b{amount}\s?([{symbols}])", lambda m: spoken(m.group(2), m.group(1), None), text)


def _percentages(text: str) -> str:
    amount = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    return re.sub(rf"{amount}\s?%", lambda m: f"{numbers.decimal(m.group(1))} percent", text)


def _ordinals(text: str) -> str:
    return re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", lambda m: numbers.ordinal(int(m.group(1))), text)


def _decades(text: str) -> str:
    def decade(m: re.Match) -> str:
        value = int(m.group(1))
        return numbers.plural(numbers.year(value) if value >= 1000 else numbers.cardinal(value))

    text = re.sub(r"\b(\d{3}0)'?s\b", decade, text)
    return re.sub(r"(?:\B'|\b)([1-9]0)'?s\b", decade, text)


def _plain_numbers(text: str) -> str:
    text = re.sub(r"(^|[\s(])-(?=\.?\d)", r"\1minus ", text)
    return re.sub(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+", lambda m: _number(m.group(0)), text)


def _number(raw: str) -> str:
    if "." in raw:
        return numbers.decimal(raw)
    plain = raw.replace(",", "")
    if len(plain) > 1 and plain.startswith("0"):
        return numbers.digits(plain)
    value = int(plain)
    if "," not in raw and len(plain) == 4 and 1100 <= value <= 2099:
        return numbers.year(value)
    return numbers.cardinal(value)


def _symbols(text: str) -> str:
    text = re.sub(r"#\s?(?=\d)", "number ", text)
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    return text


_RULES: tuple[Callable[[str], str], ...] = (
    _abbreviations,
    _dates,
    _times,
    _money,
    _percentages,
    _ordinals,
    _decades,
    _symbols,
    _plain_numbers,
)
