import pytest

from provoice.asr.confidence import SURE_WORD_PROBABILITY, expected_accuracy, segment_accuracy


def test_a_segment_counts_the_words_the_model_gave_at_least_even_odds():
    assert segment_accuracy([0.99, 0.8, SURE_WORD_PROBABILITY, 0.2]) == 0.75
    assert segment_accuracy([]) is None


def test_expected_accuracy_weights_segments_by_their_words():
    segments = [("one two three four", 0.9), ("five", 0.5), ("", 0.1), ("six seven", None)]
    assert expected_accuracy(segments) == pytest.approx((4 * 0.9 + 0.5) / 5, abs=1e-4)


def test_expected_accuracy_is_none_without_any_estimate():
    assert expected_accuracy([]) is None
    assert expected_accuracy([("words here", None)]) is None
