"""Which validated checkpoint is best: similarity counts only while the words survive."""

from provoice.tts.train.selection import best_step, rank, stale_for


def point(step, wer=None, sim=None, mel=None) -> dict:
    r = {"step": step}
    for key, value in (("val_wer", wer), ("val_speaker_similarity", sim), ("val_mel", mel)):
        if value is not None:
            r[key] = value
    return r


def test_a_mumbling_voice_never_wins_on_similarity():
    history = [
        point(0, 0.05, 0.50),
        {"step": 5, "loss_g": 3.0},
        point(10, 0.10, 0.80),
        point(20, 0.45, 0.95),
        point(30, 0.12, 0.85),
    ]
    ranked = rank(history, wer_margin=0.08)
    assert [r.step for r in ranked] == [30, 10, 20]  # step 0 is the base model: a reference, not a candidate
    assert [r.eligible for r in ranked] == [True, True, False]
    assert best_step(history, 0.08) == 30
    assert best_step(history, 0.05) == 10  # within the base's 0.05 + 0.05, only step 10
    assert best_step(history, 0.01) == 10  # none is eligible: the lowest WER ranks first
    assert stale_for(history, 0.08, 50) == 20


def test_the_base_is_the_reference_so_a_lucky_point_does_not_raise_the_bar():
    history = [point(0, 0.05, 0.50), point(10, 0.00, 0.80), point(20, 0.09, 0.90)]
    assert best_step(history, 0.05) == 20  # 0.09 is within 0.05 of the base, however lucky step 10 was
    assert best_step(history[1:], 0.05) == 10  # without a base point, the best trained WER is the reference


def test_ties_go_to_the_earlier_step_and_mel_is_the_fallback():
    assert best_step([point(10, 0.1, 0.8), point(20, 0.1, 0.8)], 0.05) == 10
    assert best_step([point(10, mel=0.9), point(20, mel=0.7), point(30, mel=0.8)], 0.05) == 20
    assert best_step([point(0, 0.1, 0.5), {"step": 3, "mel": 1.0}], 0.05) is None
    assert stale_for([], 0.05, 10) == 0
