"""Settings of one fine-tuning run: optimiser, schedule, budget, checkpoints, device and precision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from provoice.tts.model.config import require_known_fields
from provoice.tts.model.losses import LossWeights

#: The generator's top-level modules; `module_lr` names them or a sub-module under one ("voice.dec").
GENERATOR_MODULES = ("enc_p", "dp", "flow", "dec", "enc_q", "voice")


@dataclass(frozen=True)
class TrainConfig:
    """How to fine-tune; the model's own sizes live in `VitsConfig`.

    These defaults are the trainer's own, for direct use; the product builds its configs from one
    named recipe (`provoice.voice_models.recipe.RECIPE`), whose name lands in `recipe` so every
    checkpoint records what trained it.

    Budget: `max_steps` counts optimiser steps over the whole run (a resumed run stops at the same
    global step), `max_minutes` is wall-clock time of one call; at least one must be set and
    training stops at whichever comes first.

    Learning rate: AdamW with VITS/Piper's betas and eps, decayed by `lr_decay` after every
    optimiser step (ExponentialLR per step, not per epoch, so the schedule does not depend on how
    many utterances a dataset has: 0.999875 halves the rate in about 5,500 steps).

    Gradients of each network are clipped to `grad_clip_norm` (1000, as in Coqui's VITS recipe):
    that catches spikes without rescaling ordinary steps; the norms are reported in the metrics.

    `disc_warmup_steps`: for that many first steps the generator learns from the reconstruction
    terms only (mel, KL, duration) while the discriminator trains; use it when the discriminator
    is fresh (e.g. a base model imported from an ONNX voice) so its random verdicts do not steer
    the generator.

    Staged fine-tuning: `module_lr` multiplies the learning rate of the generator's top-level
    modules (`enc_p` text encoder, `dp` duration predictor, `flow`, `dec`, `enc_q`, `voice`) or of a
    sub-module named with dots (`voice.enc_p`, the voice's bias on the text encoder); the longest
    matching name wins and 0 freezes. `kl_warmup_steps` ramps the KL weight linearly from 0 over that many steps, so a
    posterior that does not yet match the prior cannot drag the text encoder away in the first steps.

    Inference-path decoding: `prior_decode_fraction` of each batch is decoded from the text's
    prior through the inverse flow (at `prior_noise_scale`, aligned to the real frames) instead of
    from the posterior, so the mel loss also trains the path synthesis takes.

    Validation and selection (`provoice.tts.train.selection`): `validate(generator, step)` runs
    every `validate_every` steps, at the end, and at step 0 with `validate_at_start` (the base
    model, a reference point only). A due validation is skipped while validation has taken more
    than `validation_budget` of the training time. The `keep_best` best-ranked generators are kept
    under `<prefix>/best/`; `early_stop_patience` stops the run when the best-ranked point is that
    many steps old (0: never).
    """

    batch_size: int = 16
    learning_rate: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    eps: float = 1e-9
    weight_decay: float = 0.01
    lr_decay: float = 0.999875
    grad_clip_norm: float | None = 1000.0
    max_steps: int | None = None
    max_minutes: float | None = None
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    log_every: int = 10
    validate_every: int = 0
    seed: int = 1234
    device: str = "auto"
    precision: str = "auto"
    disc_warmup_steps: int = 0
    bucket_batches: int = 4
    loss_weights: LossWeights = field(default_factory=LossWeights)
    module_lr: dict[str, float] = field(default_factory=dict)
    kl_warmup_steps: int = 0
    validate_at_start: bool = False
    validation_budget: float = 0.15
    keep_best: int = 2
    selection_wer_margin: float = 0.15
    early_stop_patience: int = 0
    prior_decode_fraction: float = 0.0
    prior_noise_scale: float = 0.667
    recipe: str = ""

    def __post_init__(self) -> None:
        problems = []
        if self.max_steps is None and self.max_minutes is None:
            problems.append("set max_steps or max_minutes (or both)")
        if self.max_steps is not None and self.max_steps < 0:
            problems.append("max_steps must be >= 0")
        if self.max_minutes is not None and self.max_minutes <= 0:
            problems.append("max_minutes must be > 0")
        for name in ("batch_size", "checkpoint_every", "keep_checkpoints", "log_every", "bucket_batches"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        for name in ("validate_every", "disc_warmup_steps", "kl_warmup_steps", "early_stop_patience", "keep_best"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if not 0 <= self.prior_decode_fraction <= 1 or self.prior_noise_scale < 0:
            problems.append("prior_decode_fraction must lie in [0, 1] and prior_noise_scale be >= 0")
        if self.validation_budget < 0 or self.selection_wer_margin < 0:
            problems.append("validation_budget and selection_wer_margin must be >= 0")
        unknown = {name for name in self.module_lr if name.split(".", 1)[0] not in GENERATOR_MODULES}
        if unknown or any(v < 0 for v in self.module_lr.values()):
            problems.append(
                f"module_lr takes multipliers >= 0 for {', '.join(GENERATOR_MODULES)} or their sub-modules; "
                f"got {dict(self.module_lr)}"
            )
        if self.learning_rate <= 0 or not 0 < self.lr_decay <= 1:
            problems.append("learning_rate must be > 0 and lr_decay in (0, 1]")
        if self.grad_clip_norm is not None and self.grad_clip_norm <= 0:
            problems.append("grad_clip_norm must be > 0 (or None for no clipping)")
        if self.device not in ("auto", "cpu", "cuda"):
            problems.append(f"device must be auto, cpu or cuda, not {self.device!r}")
        if self.precision not in ("auto", "bf16", "fp32"):
            problems.append(f"precision must be auto, bf16 or fp32, not {self.precision!r}")
        if problems:
            raise ValueError("invalid TrainConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (stored in every checkpoint for the record)."""
        data = asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of `to_dict`; unknown keys are an error."""
        require_known_fields(cls, data)
        values = dict(data)
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        if isinstance(values.get("loss_weights"), dict):
            values["loss_weights"] = LossWeights(**values["loss_weights"])
        return cls(**values)
