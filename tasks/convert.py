"""Convert step: training-rate mono PCM, loudness-normalised, with a 16 kHz view."""

from prefect import task
from prefect.cache_policies import NO_CACHE

from provoice.dataset.steps import convert_step
from provoice.settings import Settings
from provoice.storage import Storage
from tasks.retry import STEP_OPTIONS


@task(name="convert", cache_policy=NO_CACHE, **STEP_OPTIONS)
def convert_file(settings: Settings, sha256: str, raw_uri: str) -> dict:
    return convert_step(Storage.from_settings(settings), settings, sha256, raw_uri)
