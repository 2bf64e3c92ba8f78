"""The training progress record the Playground shows: step of budget, share done, time left."""

from provoice.storage import Storage
from provoice.voice_models import ProgressWriter, progress_record, training_progress


def test_the_budget_that_ends_first_gives_the_share_and_the_time_left():
    by_steps = progress_record({"step": 30, "trained_s": 60.0, "steps_per_s": 0.5}, max_steps=40, max_minutes=10)
    assert (by_steps["percent"], by_steps["seconds_left"]) == (75.0, 20)
    by_minutes = progress_record({"step": 30, "trained_s": 540.0, "steps_per_s": 0.5}, max_steps=400, max_minutes=10)
    assert (by_minutes["percent"], by_minutes["seconds_left"]) == (90.0, 60)
    none = progress_record({"step": 3}, max_steps=None, max_minutes=None)
    assert (none["percent"], none["seconds_left"]) == (None, None)


def test_records_are_written_at_most_every_few_seconds_and_read_back(settings):
    storage = Storage.from_settings(settings)
    assert training_progress(settings, "run1") is None
    write = ProgressWriter(storage, "run1")

    def at(step: int) -> dict:
        return progress_record(
            {"step": step, "trained_s": float(step), "steps_per_s": 1.0}, max_steps=10, max_minutes=None
        )

    write(at(1), force=True)
    write(at(2))
    assert training_progress(settings, "run1")["step"] == 1
    write(at(3), force=True)
    shown = training_progress(settings, "run1")
    assert (shown["step"], shown["max_steps"], shown["percent"], shown["seconds_left"]) == (3, 10, 30.0, 7)
