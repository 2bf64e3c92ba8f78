"""Quality steps: per-file signal and transcript checks, then the dataset-wide speaker check."""

from prefect import task
from prefect.cache_policies import NO_CACHE

from provoice.dataset.outputs import SpeakerCheck, apply_speaker_check
from provoice.dataset.steps import quality_step
from provoice.settings import Settings
from provoice.storage import Storage
from tasks.retry import STEP_OPTIONS


@task(name="quality", cache_policy=NO_CACHE, **STEP_OPTIONS)
def check_quality(settings: Settings, transcribed: dict) -> dict:
    return quality_step(Storage.from_settings(settings), settings, transcribed)


@task(name="speaker-consistency", cache_policy=NO_CACHE)
def check_speakers(settings: Settings, qualities: dict[str, dict]) -> tuple[dict[str, dict], SpeakerCheck]:
    """Returns the qualities with other-speaker segments rejected, and the dataset's voice."""
    return qualities, apply_speaker_check(qualities, settings)
