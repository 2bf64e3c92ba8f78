"""Ingest step: store one upload untouched and probe its real format."""

from prefect import task
from prefect.cache_policies import NO_CACHE

from provoice.dataset.ingest import Ingested, ingest_source
from provoice.dataset.sources import Source
from provoice.settings import Settings
from tasks.retry import STEP_OPTIONS


@task(name="ingest-file", cache_policy=NO_CACHE, **STEP_OPTIONS)
def ingest_file(source: Source, settings: Settings) -> Ingested:
    return ingest_source(source, settings)
