"""Models load once per process: eight threads asking for the same model at once share one load."""

import threading
import time

from provoice.loading import SingleFlight, once_per_process


def _ask_together(n, ask):
    barrier, got = threading.Barrier(n), []

    def worker():
        barrier.wait()
        got.append(ask())

    threads = [threading.Thread(target=worker) for _ in range(n)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return got


def test_concurrent_first_callers_share_one_load():
    calls = []

    @once_per_process()
    def load(name):
        calls.append(name)
        time.sleep(0.3)  # a slow load: every other thread arrives while it runs
        return object()

    got = _ask_together(8, lambda: load("whisper"))
    assert len(calls) == 1 and load.cache.loads == 1
    assert all(g is got[0] for g in got)
    assert load("other") is not got[0] and load.cache.loads == 2


def test_a_failed_load_is_not_cached_and_the_next_caller_tries_again():
    cache, attempts = SingleFlight(), []

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("disk hiccup")
        return "model"

    try:
        cache.get("k", flaky)
    except OSError:
        pass
    assert cache.get("k", flaky) == "model" and cache.get("k", flaky) == "model"
    assert len(attempts) == 2 and cache.loads == 1


def test_the_cache_is_bounded():
    cache = SingleFlight(maxsize=2)
    for key in "abc":
        cache.get(key, lambda key=key: key.upper())
    cache.get("a", lambda: "A again")
    assert cache.loads == 4


def test_whisper_loads_once_under_eight_threads(settings):
    from provoice.asr.whisper import load_model

    load_model.cache.clear()
    before = load_model.cache.loads
    got = _ask_together(8, lambda: load_model(settings.asr_model))
    assert load_model.cache.loads == before + 1
    assert all(g is got[0] for g in got)
