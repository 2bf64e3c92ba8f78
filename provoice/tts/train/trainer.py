"""Fine-tune a VITS generator and discriminator on a list of training items.

One call trains until its budget is spent, writing checkpoints to storage under a run prefix; a
later call with the same prefix resumes from the newest checkpoint, bit for bit: weights,
optimisers, schedulers, data order and every random stream are restored, so stopping and resuming
gives the same parameters as one uninterrupted run. Under torchrun (WORLD_SIZE > 1) each process
trains its shard of every epoch's batches with DDP and rank 0 alone writes to storage.

Outputs under `prefix`: `checkpoints/step-NNNNNNNNN.pt` (the newest `keep_checkpoints`),
`best/step-NNNNNNNNN.pt` (generator weights of the `keep_best` best-ranked validation points),
`history.json` (the metric records) and `loss_curve.png`. The generator passed in is trained in
place; when validation ranked a best point, it holds that point's weights when `Trainer.run` returns
(`TrainResult.best_step`), otherwise the final ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from provoice.tts.errors import CheckpointError, TrainingError
from provoice.tts.model.losses import discriminator_loss, generator_objective, reconstruction_losses, target_segment
from provoice.tts.model.mel import AudioFeatures
from provoice.tts.model.synthesizer import SynthesizerTrn, VitsOutput
from provoice.tts.train import distributed, selection
from provoice.tts.train.batching import Batch, TrainingItem, collate, plan_epoch, shard, split_batches
from provoice.tts.train.checkpoint import (
    capture_rng,
    checkpoint_key,
    latest_checkpoint,
    load_state,
    preserved_rng,
    prune_checkpoints,
    restore_rng,
    save_state,
)
from provoice.tts.train.config import TrainConfig
from provoice.tts.train.state import Progress, Stage, TrainState
from provoice.tts.train.store import RunStore

__all__ = ["TrainConfig", "TrainResult", "Trainer", "TrainingItem"]

log = logging.getLogger(__name__)

STATE_FORMAT = "provoice-vits-train-state"
STATE_VERSION = 1
HISTORY_NAME = "history.json"
LOSS_CURVE_NAME = "loss_curve.png"
#: Steps a time-budgeted run measures before it decides whether it can reach the end of the
#: discriminator's warm-up (and so whether training the discriminator is worth it).
DISC_PROBE_STEPS = 3
BEST_DIR = "best"

MetricsCallback = Callable[[dict[str, float]], None]
ValidateCallback = Callable[[SynthesizerTrn, int], Mapping[str, float] | None]
CheckpointCallback = Callable[[str, int], None]


@dataclass
class TrainResult:
    """Where a call left the run; `stopped_by` is "max_steps", "max_minutes" or "early_stop".
    `best_step` is the validation point whose weights the generator holds (None: the last step)."""

    step: int
    epoch: int
    stopped_by: str
    checkpoint_key: str | None
    resumed_from: str | None
    batch_size: int
    history: list[dict[str, float]]
    trained_s: float
    history_key: str | None
    loss_curve_key: str | None
    skipped_items: list[str] = field(default_factory=list)
    best_step: int | None = None
    best_key: str | None = None
    validation_s: float = 0.0


@dataclass
class _Window:
    """Sums of step losses since the last metric record (kept on the device until logged)."""

    start: float
    steps: int = 0
    items: int = 0
    audio_seconds: float = 0.0
    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, losses: Mapping[str, torch.Tensor], batch: Batch) -> None:
        self.steps += 1
        self.items += batch.size
        self.audio_seconds += batch.audio_seconds
        for key, value in losses.items():
            self.sums[key] = self.sums[key] + value if key in self.sums else value.clone()
            self.counts[key] = self.counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        """Each term's mean over the steps that had it (the discriminator's stop when it is switched off)."""
        return {key: float(value.item()) / self.counts[key] for key, value in self.sums.items()}


class Trainer:
    """Train (or resume) the run under `prefix` until the budget in `config` is spent: `Trainer(...).run()`.

    The model sizes are `generator.config`. With a checkpoint under `prefix`, its weights, optimiser
    and schedule state, data position and random streams replace the fresh ones (the items must be
    the same; budget and cadence come from `config`). The global python/numpy/torch generators are
    seeded with `config.seed + rank`.

    `on_metrics` receives every metric record (rank 0 only); `validate(generator, step)` runs every
    `config.validate_every` steps on rank 0 in eval mode with the training random streams set
    aside, and what it returns is recorded with a `val_` prefix; `on_checkpoint(key, step)` follows
    each checkpoint write. What a checkpoint restores is `self.state` (`provoice.tts.train.state`).
    """

    def __init__(
        self,
        items: Sequence[TrainingItem],
        generator: SynthesizerTrn,
        discriminator: nn.Module,
        config: TrainConfig,
        storage: RunStore,
        prefix: str,
        *,
        on_metrics: MetricsCallback | None = None,
        validate: ValidateCallback | None = None,
        on_checkpoint: CheckpointCallback | None = None,
    ) -> None:
        self.config = config
        self.vits = generator.config
        self.storage = storage
        self.prefix = prefix.strip("/")
        self.on_metrics = on_metrics
        self.validate = validate
        self.on_checkpoint = on_checkpoint
        self.items, self.skipped = self._usable(items)
        self.fingerprint = _fingerprint(self.items)
        self.lengths = [len(item.audio) for item in self.items]

        self.ctx = distributed.setup(config.device)
        try:
            self._build(generator, discriminator)
        except BaseException:
            distributed.teardown(self.ctx)
            raise

    def _build(self, generator: SynthesizerTrn, discriminator: nn.Module) -> None:
        """Models, optimisers and schedulers on the device, then the newest checkpoint if any."""
        config, storage = self.config, self.storage
        self.device = self.ctx.device
        self.bf16 = config.precision == "bf16" or (
            config.precision == "auto" and self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        )
        generator, discriminator = generator.to(self.device).train(), discriminator.to(self.device).train()
        self.features = AudioFeatures(self.vits).to(self.device)
        opt_g, opt_d = self._optimizer(generator, per_module=True), self._optimizer(discriminator)
        decay = torch.optim.lr_scheduler.ExponentialLR
        self.g = Stage("generator", "g", generator, opt_g, decay(opt_g, config.lr_decay))
        self.d = Stage("discriminator", "d", discriminator, opt_d, decay(opt_d, config.lr_decay))
        self.progress = Progress(discriminator_off=self._warmup_outlasts(config.max_steps))
        self.state = TrainState((self.g, self.d), self.progress)
        self.last_checkpoint: str | None = None
        self.resumed_from: str | None = None
        self._last_validation_s = 0.0

        _seed_everything(config.seed + self.ctx.rank)
        key = latest_checkpoint(storage, self.prefix)
        if key is not None:
            self._restore(load_state(storage, key), key)
        else:
            self.progress.plan = self._plan(0)
        self.my_batches = shard(self.progress.plan, self.ctx.rank, self.ctx.world_size)

        self.g_model: nn.Module = generator
        self.d_model: nn.Module = discriminator
        if self.ctx.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.g_model = DistributedDataParallel(generator, device_ids=ids)
            self.d_model = DistributedDataParallel(discriminator, device_ids=ids)

    @property
    def batch_size(self) -> int:
        """The batch size new epochs are planned with (lowered for good after an out-of-memory)."""
        return min(self.config.batch_size, self.progress.batch_cap or self.config.batch_size)

    def run(self) -> TrainResult:
        """Train until the budget is spent, then leave the process group `setup` joined. Budgets are totals
        for the run: a resumed call continues the step counter and the trained time from its checkpoint,
        so it trains only the rest."""
        try:
            stopped_by = self._train_until_spent()
            history_key, curve_key = self._write_reports()
            best = self._restore_best()
            p = self.progress
            return TrainResult(
                step=p.step,
                epoch=p.epoch,
                stopped_by=stopped_by,
                checkpoint_key=self.last_checkpoint,
                resumed_from=self.resumed_from,
                batch_size=self.batch_size,
                history=list(p.history),
                trained_s=round(p.trained_s, 3),
                history_key=history_key,
                loss_curve_key=curve_key,
                skipped_items=list(self.skipped),
                best_step=best,
                best_key=None if best is None else best_key(self.prefix, best),
                validation_s=round(p.validation_s, 3),
            )
        finally:
            distributed.teardown(self.ctx)

    def _train_until_spent(self) -> str:
        """The loop: steps, records, validations and checkpoints until a budget or early stop; says which."""
        p = self.progress
        started = time.monotonic()
        self._started, self._trained_before = started, p.trained_s
        deadline = (started + self.config.max_minutes * 60 - p.trained_s) if self.config.max_minutes else None
        stopped_by = "early_stop" if p.early_stopped else ("max_steps" if self._steps_done() else None)
        if stopped_by is None and deadline is not None and started >= deadline:
            stopped_by = "max_minutes"
        if p.step == 0 and self.config.validate_at_start and self.validate is not None:
            self._validate(force=True)
        window = _Window(time.monotonic())
        loop_started, loop_first_step = time.monotonic(), p.step
        while stopped_by is None:
            indices = self._next_batch()
            batch = self._collate(indices)
            try:
                losses = self.train_step(batch)
            except torch.cuda.OutOfMemoryError as exc:
                self._check_can_shrink(len(indices), exc)
                losses = None
            if losses is None:
                del batch
                self._shrink_after_oom(len(indices))
                continue
            p.position += 1
            p.step += 1
            window.add(losses, batch)
            if deadline is not None and p.step - loop_first_step == DISC_PROBE_STEPS and not p.discriminator_off:
                per_step = (time.monotonic() - loop_started) / DISC_PROBE_STEPS
                reachable = p.step + max(deadline - time.monotonic(), 0.0) / per_step
                p.discriminator_off = distributed.any_rank(self.ctx, self._warmup_outlasts(reachable))

            if self._steps_done():
                stopped_by = "max_steps"
            elif deadline is not None and distributed.any_rank(self.ctx, time.monotonic() >= deadline):
                stopped_by = "max_minutes"
            every = self.config.validate_every
            if every and (p.step % every == 0 or stopped_by is not None):
                self._validate(force=stopped_by is not None)
                if stopped_by is None and distributed.any_rank(self.ctx, self._stale()):
                    stopped_by, p.early_stopped = "early_stop", True
            checkpoint_due = p.step % self.config.checkpoint_every == 0 or stopped_by is not None
            record_due = p.step % self.config.log_every == 0 or checkpoint_due
            if record_due:
                self._record(window, started)
            if checkpoint_due:
                self._checkpoint()
            if record_due:
                window = _Window(time.monotonic())
        return stopped_by

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One discriminator and one generator update; returns detached loss tensors."""
        with torch.no_grad():
            spec = self.features.spectrogram(batch.audio)
        with self._autocast():
            out = self.g_model(
                batch.phoneme_ids,
                batch.phoneme_lengths,
                spec,
                batch.frame_lengths,
                g=batch.embeddings,
                prior_items=round(self.config.prior_decode_fraction * batch.size),
                prior_noise_scale=self.config.prior_noise_scale,
            )
        out = _as_float(out)
        real = target_segment(batch.audio, out, self.vits.hop_length)

        losses: dict[str, torch.Tensor] = {}
        if not self.progress.discriminator_off:
            with self._autocast():
                real_scores, fake_scores, _, _ = self.d_model(real, out.audio.detach())
            loss_d = discriminator_loss(real_scores, fake_scores)
            self.d.optimizer.zero_grad(set_to_none=True)
            loss_d.backward()
            losses.update(loss_d=loss_d.detach(), grad_norm_d=self._clip(self.d.module))
            self.d.optimizer.step()

        terms = reconstruction_losses(out, real, self.features)
        weights = self._weights()
        if self.progress.step >= self.config.disc_warmup_steps and not self.progress.discriminator_off:
            with self._autocast():
                _, fake_scores, real_fmaps, fake_fmaps = self.d_model(real, out.audio)
            total, terms = generator_objective(terms, fake_scores, real_fmaps, fake_fmaps, weights)
        else:
            total, terms = generator_objective(terms, weights=weights)
        self.g.optimizer.zero_grad(set_to_none=True)
        total.backward()
        grad_g = self._clip(self.g.module)
        self.g.optimizer.step()
        self.g.scheduler.step()
        if not self.progress.discriminator_off:
            self.d.scheduler.step()
        losses.update(loss_g=total.detach(), grad_norm_g=grad_g)
        losses.update({name: value.detach() for name, value in terms.items()})
        return losses

    def _weights(self):
        """The loss weights of this step: the KL weight ramps up over `kl_warmup_steps`."""
        weights, ramp = self.config.loss_weights, self.config.kl_warmup_steps
        if ramp and self.progress.step < ramp:
            return dataclasses.replace(weights, kl=weights.kl * self.progress.step / ramp)
        return weights

    def _warmup_outlasts(self, steps: float | None) -> bool:
        """True when a run of `steps` steps ends inside the discriminator's warm-up: the generator
        would never learn from it, so training it (a third of a CPU step) would be wasted."""
        warmup = self.config.disc_warmup_steps
        if warmup == 0 or steps is None:
            return False
        if steps <= warmup:
            log.info(
                "%s: the discriminator is not trained (the run ends within its %d warm-up steps)", self.prefix, warmup
            )
        return steps <= warmup

    def _collate(self, indices: Sequence[int]) -> Batch:
        batch = collate(
            [self.items[i] for i in indices], self.vits.hop_length, self.vits.sample_rate, self.vits.conditioned
        )
        return batch.to(self.device)

    def _usable(self, items: Sequence[TrainingItem]) -> tuple[list[TrainingItem], list[str]]:
        """Items the model can align (at least one frame per phoneme); bad inputs are an error."""
        usable, skipped = [], []
        dim = self.vits.speaker_embedding_dim
        for item in items:
            ids = item.phoneme_ids
            if ids and (min(ids) < 0 or max(ids) >= self.vits.n_vocab):
                raise ValueError(f"item {item.item_id}: phoneme ids must lie in [0, {self.vits.n_vocab})")
            if np.ndim(item.audio) != 1:
                raise ValueError(f"item {item.item_id}: audio must be one-dimensional")
            if self.vits.conditioned and (item.embedding is None or np.shape(item.embedding) != (dim,)):
                raise ValueError(f"item {item.item_id}: a conditioned model needs a {dim}-d speaker embedding")
            if not ids or len(item.audio) // self.vits.hop_length < len(ids):
                skipped.append(item.item_id)
                continue
            usable.append(item)
        if skipped:
            log.warning("skipping %d items with fewer spectrogram frames than phonemes", len(skipped))
        if not usable:
            raise TrainingError("no usable training items: every item is empty or shorter than its phoneme sequence")
        return usable, skipped

    def _optimizer(self, module: nn.Module, per_module: bool = False) -> torch.optim.Optimizer:
        """AdamW; `per_module` (the generator): one parameter group per `module_lr` entry (frozen ones left out)."""
        c = self.config
        groups: list[dict[str, Any]] = [{"params": list(module.parameters())}]
        if c.module_lr and per_module:
            by_scale: dict[float, list[nn.Parameter]] = {}
            for name, p in module.named_parameters():
                scale = _module_scale(c.module_lr, name)
                if scale == 0:
                    p.requires_grad_(False)
                else:
                    by_scale.setdefault(scale, []).append(p)
            groups = [{"params": ps, "lr": c.learning_rate * scale} for scale, ps in sorted(by_scale.items())]
        return torch.optim.AdamW(groups, c.learning_rate, betas=c.betas, eps=c.eps, weight_decay=c.weight_decay)

    def _autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def _clip(self, module: nn.Module) -> torch.Tensor:
        limit = self.config.grad_clip_norm if self.config.grad_clip_norm is not None else float("inf")
        return torch.nn.utils.clip_grad_norm_(module.parameters(), limit).detach()

    def _steps_done(self) -> bool:
        return self.config.max_steps is not None and self.progress.step >= self.config.max_steps

    def _plan(self, epoch: int) -> list[list[int]]:
        plan = plan_epoch(self.lengths, self.batch_size, self.config.seed, epoch, self.config.bucket_batches)
        if len(plan) < self.ctx.world_size:
            raise TrainingError(
                f"{len(self.items)} items make {len(plan)} batches of {self.batch_size}, fewer than the "
                f"{self.ctx.world_size} training processes; lower the batch size or add data"
            )
        return plan

    def _next_batch(self) -> list[int]:
        p = self.progress
        if p.position >= len(self.my_batches):
            p.epoch += 1
            p.position = 0
            p.plan = self._plan(p.epoch)
            self.my_batches = shard(p.plan, self.ctx.rank, self.ctx.world_size)
        return self.my_batches[p.position]

    def _check_can_shrink(self, size: int, exc: BaseException) -> None:
        if self.ctx.distributed:
            raise TrainingError(
                f"CUDA ran out of memory at batch size {size} under DDP, where ranks cannot shrink their batches "
                "independently; resume the run with a smaller batch_size"
            ) from exc
        if size <= 1:
            raise TrainingError("CUDA ran out of memory with a single utterance per batch") from exc

    def _shrink_after_oom(self, size: int) -> None:
        """Free what the failed step held and re-cut the rest of the epoch into halved batches."""
        for stage in self.state.stages:
            stage.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        p = self.progress
        p.batch_cap = max(1, size // 2)
        p.plan = p.plan[: p.position] + split_batches(p.plan[p.position :], p.batch_cap)
        self.my_batches = p.plan
        log.warning("CUDA out of memory at batch size %d; continuing with batch size %d", size, p.batch_cap)

    def _record(self, window: _Window, started: float) -> None:
        if not window.steps:
            return
        elapsed = max(time.monotonic() - window.start, 1e-9)
        means = window.means()
        means = distributed.mean_over_ranks(self.ctx, means)
        audio_seconds = distributed.sum_over_ranks(self.ctx, window.audio_seconds)
        record: dict[str, float] = {"step": self.progress.step, "epoch": self.progress.epoch, **means}
        record.update(
            lr_g=max(group["lr"] for group in self.g.optimizer.param_groups),
            lr_d=self.d.optimizer.param_groups[0]["lr"],
            batch_size=window.items / window.steps,
            steps_per_s=window.steps / elapsed,
            audio_s_per_s=audio_seconds / elapsed,
            elapsed_s=time.monotonic() - started,
            trained_s=self._trained_before + time.monotonic() - self._started,
        )
        self._emit(record)

    def _emit(self, record: dict[str, float]) -> None:
        self.progress.history.append(record)
        if self.ctx.is_main and self.on_metrics is not None:
            self.on_metrics(record)

    def _validate(self, force: bool = False) -> None:
        """Validate on rank 0, unless validation has used up its share of the time (`force`: the
        start and end points are always taken); keep the generator if it ranks among the best."""
        if not self.ctx.is_main or self.validate is None:
            return
        p = self.progress
        if any(r.get("step") == p.step and any(k.startswith("val_") for k in r) for r in p.history):
            return
        training_s = self._trained_before + (time.monotonic() - self._started) - p.validation_s
        # The next validation must fit in the share too (it takes about as long as the last one).
        share = self.config.validation_budget * max(training_s, 0.0)
        if not force and p.validation_s + self._last_validation_s > share:
            log.info(
                "step %d: validation skipped (it has taken %.0f s of %.0f s trained)",
                p.step,
                p.validation_s,
                training_s,
            )
            return
        began = time.monotonic()
        with preserved_rng():
            self.g.module.eval()
            try:
                result = self.validate(self.g.module, p.step)
            finally:
                self.g.module.train()
        if result:
            values = {k if k.startswith("val_") else f"val_{k}": float(v) for k, v in result.items()}
            self._emit({"step": p.step, "epoch": p.epoch, **values})
            self._keep_if_best()
        self._last_validation_s = time.monotonic() - began
        self.progress.validation_s += self._last_validation_s

    def _ranked_steps(self) -> list[int]:
        return [r.step for r in selection.rank(self.progress.history, self.config.selection_wer_margin)]

    def _keep_if_best(self) -> None:
        """Store this step's generator if it ranks in the top `keep_best`; drop what fell out."""
        if not self.config.keep_best:
            return
        top = self._ranked_steps()[: self.config.keep_best]
        if self.progress.step in top:
            self.storage.write_bytes(
                best_key(self.prefix, self.progress.step), _tensor_bytes(self.g.module.state_dict())
            )
        for key in self.storage.list(f"{self.prefix}/{BEST_DIR}"):
            step = _best_step_of(key)
            if step is not None and step not in top:
                self.storage.delete(key)

    def _stale(self) -> bool:
        patience = self.config.early_stop_patience
        if not patience or not self.ctx.is_main:
            return False
        stale = selection.stale_for(self.progress.history, self.config.selection_wer_margin, self.progress.step)
        return stale >= patience

    def _restore_best(self) -> int | None:
        """Load the best-ranked kept generator into the model; None when there is none to load."""
        if not self.config.keep_best:
            return None
        ranked = self._ranked_steps()
        found = None
        for step in ranked[: self.config.keep_best]:
            key = best_key(self.prefix, step)
            if self.storage.exists(key):
                found = (step, key)
                break
        distributed.barrier(self.ctx)
        if found is None:
            return None
        step, key = found
        if step != self.progress.step:
            with self.storage.local_path(key) as path:
                self.g.module.load_state_dict(torch.load(path, map_location=self.device, weights_only=True))
        log.info("%s: the best validation point is step %d of %d", self.prefix, step, self.progress.step)
        return step

    def _checkpoint(self) -> None:
        self.progress.trained_s = self._trained_before + (time.monotonic() - self._started)
        rng = distributed.gather_to_all(self.ctx, capture_rng())
        key = checkpoint_key(self.prefix, self.progress.step)
        if self.ctx.is_main:
            save_state(self.storage, key, self._state(rng))
            prune_checkpoints(self.storage, self.prefix, self.config.keep_checkpoints)
            if self.on_checkpoint is not None:
                self.on_checkpoint(key, self.progress.step)
        self.last_checkpoint = key
        distributed.barrier(self.ctx)

    def _state(self, rng: list[dict[str, Any]]) -> dict[str, Any]:
        """The checkpoint: a header that says which run it belongs to, the train state, every rank's random streams."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "world_size": self.ctx.world_size,
            "items_fingerprint": self.fingerprint,
            "vits_config": self.vits.to_dict(),
            "train_config": self.config.to_dict(),
            **self.state.state_dict(),
            "rng": rng,
        }

    def _restore(self, state: dict[str, Any], key: str) -> None:
        if state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
            raise CheckpointError(f"{key} is not a ProVoice training checkpoint (version {STATE_VERSION})")
        if state["vits_config"] != self.vits.to_dict():
            raise CheckpointError(f"{key} was trained with a different model configuration; use a new run prefix")
        if state["items_fingerprint"] != self.fingerprint:
            raise TrainingError(
                f"the training items differ from those of the run under {self.prefix!r} "
                f"(checkpoint {key}); resume with the same items or start a new run prefix"
            )
        try:
            self.state.load_state_dict(state)
        except RuntimeError as exc:
            raise CheckpointError(f"{key} does not fit the models: {exc}") from exc
        self.last_checkpoint = self.resumed_from = key
        if state["world_size"] != self.ctx.world_size:
            # Batches were sharded for another process count: start this epoch's remainder afresh.
            self.progress.epoch += 1
            self.progress.position = 0
            self.progress.plan = self._plan(self.progress.epoch)
        rng = state["rng"]
        if len(rng) == self.ctx.world_size:
            restore_rng(rng[self.ctx.rank])
        else:
            _seed_everything(self.config.seed + self.ctx.rank + self.progress.step)
        log.info("resumed %s at step %d (epoch %d) from %s", self.prefix, self.progress.step, self.progress.epoch, key)

    def _write_reports(self) -> tuple[str | None, str | None]:
        if not self.ctx.is_main:
            return None, None
        history_key = f"{self.prefix}/{HISTORY_NAME}"
        self.storage.write_json(history_key, self.progress.history)
        try:
            from provoice.tts.train.plots import loss_curve_png

            png = loss_curve_png(self.progress.history, title=f"{self.prefix} (step {self.progress.step})")
        except ImportError as exc:
            log.warning("no loss curve written: %s", exc)
            return history_key, None
        curve_key = f"{self.prefix}/{LOSS_CURVE_NAME}"
        self.storage.write_bytes(curve_key, png)
        return history_key, curve_key


def _as_float(out: VitsOutput) -> VitsOutput:
    """Losses are computed in float32 even when the forward pass ran under bf16 autocast."""
    return dataclasses.replace(
        out,
        **{
            f.name: getattr(out, f.name).float()
            for f in dataclasses.fields(out)
            if getattr(out, f.name).is_floating_point()
        },
    )


def _module_scale(module_lr: Mapping[str, float], parameter: str) -> float:
    """The multiplier of the longest `module_lr` name that is `parameter`'s module or a parent of it."""
    matches = [name for name in module_lr if parameter == name or parameter.startswith(name + ".")]
    return module_lr[max(matches, key=len)] if matches else 1.0


def best_key(prefix: str, step: int) -> str:
    return f"{prefix.strip('/')}/{BEST_DIR}/step-{step:09d}.pt"


def _best_step_of(key: str) -> int | None:
    name = key.rsplit("/", 1)[-1]
    if name.startswith("step-") and name.endswith(".pt") and name[5:-3].isdigit():
        return int(name[5:-3])
    return None


def _tensor_bytes(state: Mapping[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state.items()}, buffer)
    return buffer.getvalue()


def _fingerprint(items: Sequence[TrainingItem]) -> str:
    """Identifies the item list (ids, phonemes, audio lengths) so a resume cannot mix up data."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(json.dumps([item.item_id, list(map(int, item.phoneme_ids)), len(item.audio)]).encode())
    return digest.hexdigest()[:16]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
