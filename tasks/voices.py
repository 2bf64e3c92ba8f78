"""Voice step: four voices from four source files, with previews, for a PVC's model."""

from prefect import task
from prefect.cache_policies import NO_CACHE

from provoice.catalog import Catalog
from provoice.dataset.outputs import read_manifest
from provoice.pvc.service import get_pvc
from provoice.pvc.voices import create_voices
from provoice.quality.speaker import load_encoder
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts import synthesize
from provoice.views import PvcVoiceView
from provoice.voice_models import load_for_inference
from tasks.retry import STEP_OPTIONS


@task(name="create-voices", cache_policy=NO_CACHE, **STEP_OPTIONS)
def create_voices_task(settings: Settings, pvc_id: str, model_id: str, manifest_uri: str) -> list[PvcVoiceView]:
    catalog, storage = Catalog(settings), Storage.from_settings(settings)
    generator, meta = load_for_inference(settings, model_id)
    voices = create_voices(
        catalog,
        storage,
        get_pvc(catalog, pvc_id),
        model_id,
        read_manifest(storage, manifest_uri),
        load_encoder("cpu"),
        lambda text, emb: synthesize(generator, meta, text, emb, seed=0),
    )
    return [PvcVoiceView.model_validate(v) for v in voices]
