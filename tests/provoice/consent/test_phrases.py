from provoice.consent.phrases import WORDS, one_time_phrase, phrase_in_order, statement


def test_statement_names_speaker_account_and_one_time_words():
    phrase = one_time_phrase(5)
    text = statement("Dana Reyes", "Studio North", phrase)
    assert text.startswith("I am Dana Reyes,") and "the account Studio North" in text
    assert text.endswith(", ".join(phrase) + ".")
    assert len(set(phrase)) == 5 and set(phrase) <= set(WORDS)


def test_phrases_do_not_repeat():
    assert len({tuple(one_time_phrase(5)) for _ in range(200)}) == 200


def test_phrase_words_must_be_heard_in_order():
    phrase = ["orange", "bridge", "candle"]
    assert phrase_in_order(phrase, "My one-time words are: Orange, bridges... candle!") == []
    assert phrase_in_order(phrase, "candle, bridge, orange") == ["bridge", "candle"]
    assert phrase_in_order(phrase, "orange and a bridge") == ["candle"]
