"""Voice models as the product keeps them: the versioned base-model registry and its importers
(with posterior distillation), the inference model store, the fine-tune pipeline over a prepared
dataset, export for serving and as standard Piper voices, and evaluation (WER, speaker similarity, DNSMOS;
its scores are `provoice.views.Evaluation`, each model's kept once scored).

These know the catalog, storage and settings; the network itself is `provoice.tts`.
"""

from typing import TYPE_CHECKING

from provoice.lazy import surface

if TYPE_CHECKING:
    from provoice.voice_models.distance import VoiceDistance, measure_base_voice, voice_distance
    from provoice.voice_models.model_evaluation import evaluate_model
    from provoice.voice_models.model_store import MODELS_PREFIX, is_fine_tuned, load_for_inference
    from provoice.voice_models.pipeline import FineTuneInputs, build_bundle, export_voice_onnx, fine_tune
    from provoice.voice_models.piper_export import PiperExport, export_piper_model, export_piper_voice, piper_voice_zip
    from provoice.voice_models.progress import ProgressWriter, progress_record, training_progress
    from provoice.voice_models.recipe import RECIPE, FineTuneRecipe, recipe_for
    from provoice.voice_models.reference import reference_embedding
    from provoice.voice_models.registry import BaseModelInfo, BaseModelRegistry
    from provoice.voice_models.serving import Synthesizer, load_synthesizer

__getattr__, __dir__, __all__ = surface(
    __name__,
    {
        "distance": ("VoiceDistance", "measure_base_voice", "voice_distance"),
        "model_store": ("MODELS_PREFIX", "is_fine_tuned", "load_for_inference"),
        "piper_export": ("PiperExport", "export_piper_model", "export_piper_voice", "piper_voice_zip"),
        "model_evaluation": ("evaluate_model",),
        "pipeline": ("FineTuneInputs", "build_bundle", "export_voice_onnx", "fine_tune"),
        "progress": ("ProgressWriter", "progress_record", "training_progress"),
        "recipe": ("RECIPE", "FineTuneRecipe", "recipe_for"),
        "reference": ("reference_embedding",),
        "serving": ("Synthesizer", "load_synthesizer"),
        "registry": ("BaseModelInfo", "BaseModelRegistry"),
    },
)
