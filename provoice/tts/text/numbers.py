"""English number words (US style, no "and"), written out so the front-end does not depend on
espeak's own number reading, which differs between voices and versions. The words come from
`num2words`; the US style and the digit-by-digit reading of huge numbers are ours."""

from __future__ import annotations

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: Numbers from here on are read digit by digit: nobody says "four quadrillion ...".
DIGITS_FROM = 10**15


def num2words(n: int, **kwargs) -> str:
    """Imported on use: a GPU node training from a bundle imports this package without it."""
    from num2words import num2words as words

    return words(n, **kwargs)


def _us(words: str) -> str:
    """num2words speaks British English ("one hundred and five", "one million, two ..."); US style
    drops the "and" and the commas, and says "nineteen oh five" without the hyphen."""
    return words.replace(",", "").replace(" and ", " ").replace("oh-", "oh ")


def cardinal(n: int) -> str:
    """123 -> "one hundred twenty-three"; negatives get "minus"."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n >= DIGITS_FROM:
        return digits(str(n))
    return _us(num2words(n))


def ordinal(n: int) -> str:
    """21 -> "twenty-first"."""
    if n >= DIGITS_FROM:
        return digits(str(n)) + "th"
    return _us(num2words(n, to="ordinal"))


def year(n: int) -> str:
    """How a year is said: 1999 "nineteen ninety-nine", 1905 "nineteen oh five", 2000 "two thousand",
    2007 "two thousand seven", 2024 "twenty twenty-four", 1900 "nineteen hundred"."""
    if not 1000 <= n <= 9999:
        return cardinal(n)
    return _us(num2words(n, to="year"))


def plural(words: str) -> str:
    """ "nineteen ninety" -> "nineteen nineties" (decades like the 1990s)."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    return words + "s"


def digits(text: str) -> str:
    """ "007" -> "zero zero seven"."""
    return " ".join(_ONES[int(ch)] for ch in text if ch.isdigit())


def decimal(text: str) -> str:
    """ "3.14" -> "three point one four"; the integer part may carry thousands commas."""
    whole, _, fraction = text.partition(".")
    whole = whole.replace(",", "")
    spoken = cardinal(int(whole)) if whole else "zero"
    return f"{spoken} point {digits(fraction)}" if fraction else spoken
