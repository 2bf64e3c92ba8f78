"""Voice models as the product keeps them: the versioned base-model registry and its importers
(with posterior distillation), the inference model store, the fine-tune pipeline over a prepared
dataset, export for serving, and evaluation (WER, speaker similarity, DNSMOS).

These know the catalog, storage and settings; the network itself is `provoice.tts`.
"""

from provoice.voice_models.evaluate import Evaluation
from provoice.voice_models.model_store import MODELS_PREFIX, is_fine_tuned, load_for_inference
from provoice.voice_models.pipeline import (
    FineTuneResult,
    FineTuneInputs,
    build_bundle,
    evaluate_model,
    export_voice_onnx,
    fine_tune,
    fine_tune_config,
    settings_env,
)
from provoice.voice_models.progress import ProgressWriter, training_progress
from provoice.voice_models.reference import reference_embedding
from provoice.voice_models.serving import Synthesizer, load_synthesizer
from provoice.voice_models.registry import BaseModelInfo, BaseModelRegistry

__all__ = ["MODELS_PREFIX", "BaseModelInfo", "BaseModelRegistry", "Evaluation", "FineTuneInputs", "build_bundle", "FineTuneResult", "evaluate_model",
           "export_voice_onnx", "fine_tune", "fine_tune_config", "is_fine_tuned", "load_for_inference", "reference_embedding",
           "settings_env", "Synthesizer", "load_synthesizer", "ProgressWriter", "training_progress"]
