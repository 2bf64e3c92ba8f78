"""Segment step: webrtcvad utterances of 1–15 s."""

from prefect import task
from prefect.cache_policies import NO_CACHE

from provoice.dataset.steps import segment_step
from provoice.settings import Settings
from provoice.storage import Storage
from tasks.retry import STEP_OPTIONS


@task(name="segment", cache_policy=NO_CACHE, **STEP_OPTIONS)
def segment_file(settings: Settings, converted: dict) -> dict:
    return segment_step(Storage.from_settings(settings), settings, converted)
