"""A PVC's voices leave as standard Piper voices (`<name>.onnx` + `<name>.onnx.json` + a model card),
so any Piper host can speak them without ProVoice.

The served `model.onnx` takes the voice embedding as input `g`, which no Piper host feeds. Here a
single voice's embedding is frozen into the graph (Piper's three inputs), or all of a model's
voices are held as a table that Piper's `sid` picks from (a multi-speaker voice). Every graph is
checked in onnxruntime against the torch generator before it is kept.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from provoice.catalog import Catalog, Pvc, Voice
from provoice.errors import NotFound
from provoice.names import safe_file_stem
from provoice.pvc.service import get_pvc, get_voice, model_voices
from provoice.settings import Settings
from provoice.storage import Storage
from provoice.voice_models.model_keys import config_key
from provoice.voice_models.model_store import MODELS_PREFIX, is_fine_tuned, load_for_inference
from provoice.voice_models.piper_card import CardFacts, model_card

if TYPE_CHECKING:
    from provoice.tts import SynthesizerTrn
    from provoice.tts.formats import BaseModelMeta


@dataclass(frozen=True)
class PiperExport:
    """The files of one exported Piper voice and how closely each speaker reproduced torch."""

    name: str
    model_id: str
    pvc_id: str
    onnx_path: Path
    config_path: Path
    card_path: Path
    num_speakers: int
    speaker_id_map: dict[str, int] = field(default_factory=dict)
    correlations: list[float] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        return [self.onnx_path, self.config_path, self.card_path]


def export_piper_voice(
    settings: Settings, catalog: Catalog, voice_id: str, dest_dir: str | Path, account_id: str | None = None
) -> PiperExport:
    """One voice as a single-speaker Piper voice, its embedding frozen into the graph."""
    voice = get_voice(catalog, voice_id, account_id)
    pvc = get_pvc(catalog, voice.pvc_id, account_id)
    generator, meta = load_for_inference(settings, voice.model_id)
    embedding = np.asarray(voice.embedding, np.float32) if meta.config.conditioned else None
    name = safe_file_stem(voice.name)
    onnx_path = Path(dest_dir) / f"{name}.onnx"
    correlations = _write_graph(generator, onnx_path, [embedding], single=True)
    return _finish(settings, catalog, pvc, meta, name, onnx_path, [voice], {}, correlations)


def export_piper_model(
    settings: Settings, catalog: Catalog, model_id: str, dest_dir: str | Path, account_id: str | None = None
) -> PiperExport:
    """A PVC's model with all its voices as one multi-speaker Piper voice (`sid` picks the voice)."""
    voices = model_voices(catalog, model_id, account_id)
    if not voices:
        raise NotFound(f"model {model_id!r} has no voices of yours (see `provoice voices list`)")
    pvc = get_pvc(catalog, voices[0].pvc_id, account_id)
    generator, meta = load_for_inference(settings, model_id)
    if not meta.config.conditioned:
        raise NotFound(f"model {model_id!r} has no voice conditioning: export one of its voices instead")
    ids = speaker_ids(voices)
    name = safe_file_stem(pvc.name, fallback="model")
    onnx_path = Path(dest_dir) / f"{name}.onnx"
    embeddings = [np.asarray(v.embedding, np.float32) for v in voices]
    correlations = _write_graph(generator, onnx_path, embeddings, single=False)
    return _finish(settings, catalog, pvc, meta, name, onnx_path, voices, ids, correlations)


def piper_voice_zip(
    settings: Settings, catalog: Catalog, voice_id: str, account_id: str | None = None
) -> tuple[str, bytes]:
    """`(<name>.zip, bytes)`: a voice's Piper export and model card, made in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="provoice-piper-") as tmp:
        export = export_piper_voice(settings, catalog, voice_id, tmp, account_id)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in export.files:
                archive.write(path, path.name)
    return f"{export.name}.zip", buffer.getvalue()


def speaker_ids(voices: list[Voice]) -> dict[str, int]:
    """{voice name: sid}, in the order given; a repeated name gets its voice id, so none is lost."""
    names = [v.name for v in voices]
    return {(v.name if names.count(v.name) == 1 else f"{v.name} ({v.id})"): i for i, v in enumerate(voices)}


def _write_graph(
    generator: SynthesizerTrn, onnx_path: Path, embeddings: Sequence[np.ndarray | None], *, single: bool
) -> list[float]:
    """Export and verify under a temporary name, then move into place: a file that is there is checked."""
    from provoice.tts.formats import export_onnx_file, verify_onnx

    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    partial = onnx_path.with_name(f".{onnx_path.name}.partial")
    try:
        if single:
            export_onnx_file(generator, partial, speaker_embedding=embeddings[0])
            correlations = [verify_onnx(partial, generator, embeddings[0])]
        else:
            export_onnx_file(generator, partial, speaker_embeddings=[e for e in embeddings if e is not None])
            correlations = [verify_onnx(partial, generator, e, speaker_id=i) for i, e in enumerate(embeddings)]
        os.replace(partial, onnx_path)
    finally:
        partial.unlink(missing_ok=True)
    return correlations


def _finish(
    settings: Settings,
    catalog: Catalog,
    pvc: Pvc,
    meta: BaseModelMeta,
    name: str,
    onnx_path: Path,
    voices: list[Voice],
    ids: dict[str, int],
    correlations: list[float],
) -> PiperExport:
    """Write the voice config and the model card beside the graph."""
    import json

    from provoice.consent import current_consent
    from provoice.tts.formats import piper_voice_config

    model_id = voices[0].model_id
    facts = CardFacts(
        name=name,
        pvc=pvc,
        voices=voices,
        model_id=model_id,
        meta=meta,
        recipe=recipe_name(settings, model_id),
        consent=current_consent(catalog, pvc.id),
        speaker_id_map=ids,
    )
    config = piper_voice_config(
        meta.config,
        meta.phoneme_id_map,
        espeak_voice=meta.espeak_voice,
        scales=meta.inference,
        dataset=pvc.name,
        speaker_id_map=ids,
        provoice={
            "description": facts.description(),
            "model_id": model_id,
            "pvc_id": pvc.id,
            "base_model_id": pvc.base_model_id,
            "dataset_id": pvc.dataset_id,
            "dataset_version": pvc.dataset_version,
            "voice_ids": [v.id for v in voices],
            "recipe": facts.recipe,
        },
    )
    config_path = onnx_path.with_name(f"{name}.onnx.json")
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    card_path = onnx_path.with_name(f"{name}.md")
    card_path.write_text(model_card(facts), encoding="utf-8")
    return PiperExport(
        name=name,
        model_id=model_id,
        pvc_id=pvc.id,
        onnx_path=onnx_path,
        config_path=config_path,
        card_path=card_path,
        num_speakers=config["num_speakers"],
        speaker_id_map=dict(ids),
        correlations=correlations,
    )


def recipe_name(settings: Settings, model_id: str) -> str:
    """The fine-tune recipe a fine-tuned model's export records (older exports record none)."""
    if not is_fine_tuned(model_id):
        return "none (a base model)"
    info = Storage.from_settings(settings).read_json(config_key(MODELS_PREFIX, model_id))
    return (info.get("metadata", {}).get("recipe") or {}).get("name") or "not recorded"
