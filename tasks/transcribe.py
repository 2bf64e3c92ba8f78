"""Transcribe step: batched faster-whisper over one file's segments."""

from prefect import task
from prefect.cache_policies import NO_CACHE

from provoice.dataset.steps import transcribe_step
from provoice.settings import Settings
from provoice.storage import Storage
from tasks.retry import STEP_OPTIONS


@task(name="transcribe", cache_policy=NO_CACHE, **STEP_OPTIONS)
def transcribe_file(settings: Settings, segmented: dict) -> dict:
    return transcribe_step(Storage.from_settings(settings), settings, segmented)
