"""The fine-tune recipe: how a PVC's model is trained, in one named object with the reasons beside
its values (docs/BENCHMARKS.md, "clone quality", has the experiments behind them).

Settings override single values (`PROVOICE_TRAIN_*`, `PROVOICE_PVC_TRAIN_MINUTES`); every
training config built from it carries the recipe's name, so each checkpoint and exported model
records what trained it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from provoice.settings import Settings

if TYPE_CHECKING:
    from provoice.tts import TrainConfig
    from provoice.tts.formats import InferenceScales

#: Settings that override a recipe field of the same name when they are set.
SETTING_OVERRIDES = {
    "train_batch_size": "batch_size",
    "train_learning_rate": "learning_rate",
    "train_selection_wer_margin": "selection_wer_margin",
    "train_validate_every": "validate_every",
    "train_early_stop_patience": "early_stop_patience",
    "train_checkpoint_every": "checkpoint_every",
}
#: Sets both budgets: a PVC's default is then the same on either device.
BUDGET_SETTING = "pvc_train_minutes"


@dataclass(frozen=True)
class FineTuneRecipe:
    """One way of fine-tuning a base model into a voice owner's model (see `RECIPE`)."""

    name: str
    batch_size: int
    learning_rate: float
    module_lr: Mapping[str, float]
    kl_warmup_steps: int
    noise_scale: float
    selection_wer_margin: float
    validate_every: int
    early_stop_patience: int
    checkpoint_every: int
    minutes: float
    cpu_minutes: float
    notes: Mapping[str, str] = field(default_factory=dict, compare=False)

    def with_settings(self, settings: Settings) -> FineTuneRecipe:
        """This recipe with the values the settings set (None in a setting: the recipe's own)."""
        changes = {
            name: getattr(settings, key)
            for key, name in SETTING_OVERRIDES.items()
            if getattr(settings, key, None) is not None
        }
        budget = getattr(settings, BUDGET_SETTING, None)
        if budget is not None:
            changes.update(minutes=budget, cpu_minutes=budget)
        return dataclasses.replace(self, **changes) if changes else self

    def default_minutes(self, settings: Settings) -> float:
        """The budget a PVC asks for when its owner names none: `cpu_minutes` where training runs on
        this machine's CPU, `minutes` where it runs on a GPU (a GPU worker pool, or CUDA here)."""
        on_gpu = settings.train_deployment is not None or settings.resolved_device() == "cuda"
        return self.minutes if on_gpu else self.cpu_minutes

    def train_config(
        self,
        settings: Settings,
        *,
        max_steps: int | None = None,
        max_minutes: float | None = None,
        batch_size: int | None = None,
        checkpoint_every: int | None = None,
    ) -> TrainConfig:
        """The trainer's config for one budget (the default budget when neither is given)."""
        from provoice.tts import TrainConfig  # torch: only where training is configured

        if max_steps is None and max_minutes is None:
            max_minutes = self.default_minutes(settings)
        return TrainConfig(
            batch_size=batch_size or self.batch_size,
            learning_rate=self.learning_rate,
            max_steps=max_steps,
            max_minutes=max_minutes,
            checkpoint_every=checkpoint_every or self.checkpoint_every,
            device=settings.device,
            module_lr=dict(self.module_lr),
            kl_warmup_steps=self.kl_warmup_steps,
            validate_every=self.validate_every,
            validate_at_start=True,
            selection_wer_margin=self.selection_wer_margin,
            early_stop_patience=self.early_stop_patience,
            recipe=self.name,
        )

    def inference_scales(self, base: InferenceScales) -> InferenceScales:
        """The synthesis scales a model fine-tuned from a base with `base` scales speaks with."""
        return dataclasses.replace(base, noise_scale=min(base.noise_scale, self.noise_scale))

    def to_dict(self) -> dict[str, Any]:
        """The values, for the record (without the notes)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "notes"}
        data["module_lr"] = dict(self.module_lr)
        return data


RECIPE = FineTuneRecipe(
    name="text-locked-v1",
    batch_size=8,
    learning_rate=2e-4,
    module_lr=MappingProxyType({"enc_p": 0.0, "dp": 0.0, "voice.enc_p": 0.0, "voice.dp": 0.0}),
    kl_warmup_steps=0,
    noise_scale=0.333,
    selection_wer_margin=0.15,
    validate_every=20,
    early_stop_patience=600,
    checkpoint_every=200,
    minutes=60.0,
    cpu_minutes=120.0,
    notes=MappingProxyType(
        {
            "batch_size": "8 utterances: 0.25 steps/s on 2 CPU cores; larger batches cost time per step on a CPU",
            "learning_rate": "VITS's and Piper's rate, 2e-4, decayed per step by the trainer's schedule.",
            "module_lr": "The text encoder, the duration predictor and the voice's biases on them stay frozen (the "
            "pipeline builds the model with those biases at zero): left to train, the voice's duration bias "
            "alone sped speech up by 23 % in 40 steps and words broke. The flow, posterior, decoder and the "
            "rest of the voice adapt.",
            "kl_warmup_steps": "The KL term at full weight from the first step: it alone keeps the latents the decoder "
            "learns from close to those that inference feeds it.",
            "noise_scale": "Half Piper's prior noise: the flow has moved to the new voice while the prior it samples "
            "from has not, and the full noise lands more often on latents the decoder renders as mumbles "
            "(six synthesis seeds: WER 0.126 against 0.150 at 0.667, similarity unchanged). Validation "
            "synthesises with it too.",
            "selection_wer_margin": "A point competes on similarity while its validation WER is within this of the "
            "base's: a faithful clone of a voice Whisper finds harder than the base's "
            "legitimately loses some WER, and one misheard word moves a 10-sentence validation "
            "by about 0.015.",
            "validate_every": "Validation every 20 steps stays under its 15 % share of training time on a CPU.",
            "early_stop_patience": "Stop when the best validation point is this many steps old.",
            "checkpoint_every": "A checkpoint every 200 steps (about 13 CPU minutes) bounds what a crash loses.",
            "minutes": "The budget a PVC asks for when its owner names none and it trains on a GPU.",
            "cpu_minutes": "The same on a CPU. On the far-from-base benchmark voice the similarity rose from "
            "the base's 0.631 to 0.805 in 12 CPU minutes and 0.848 in 30 (the real speaker's own readings: 0.897); "
            "log-linear in minutes, that curve reaches 0.90 at about 90 minutes, so a CPU PVC asks for "
            "120 (extrapolated, not measured).",
        }
    ),
)


def recipe_for(settings: Settings) -> FineTuneRecipe:
    """The product's recipe with the settings' overrides."""
    return RECIPE.with_settings(settings)
