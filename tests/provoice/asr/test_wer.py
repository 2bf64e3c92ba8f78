from provoice.asr import normalise, word_error_rate


def test_spelling_numbers_and_punctuation_are_not_word_errors():
    assert word_error_rate("Our neighbours are planning a party.", "our neighbors are planning a party") == 0.0
    assert (
        word_error_rate("The flight would land twenty minutes early.", "The flight would land 20 minutes early") == 0.0
    )
    assert normalise("Hello, World!") == "hello world"


def test_real_errors_still_count():
    assert word_error_rate("the garden looked beautiful", "the garden look beautiful") == 0.25
    assert word_error_rate("a b c d", "") == 1.0
    assert word_error_rate("", "") == 0.0
