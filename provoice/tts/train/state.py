"""What a training checkpoint restores, as objects that save and load themselves.

A `Stage` is one network with the optimiser and schedule that train it; `Progress` is where the
loop stands (step, data position, history, the decisions a resume must keep); `TrainState` is the
two stages and the progress together. Adding a component means adding it here once: its
`state_dict` writes it and its `load_state_dict` restores it. The keys stay those of every
checkpoint so far (`generator`, `opt_g`, `sched_g`, …, `step`, `plan`, …), so older runs resume.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import torch
from torch import nn

__all__ = ["Progress", "Stage", "TrainState"]

M = TypeVar("M", bound=nn.Module)


@dataclass
class Stage(Generic[M]):
    """A network with the optimiser and learning-rate schedule that train it, checkpointed together
    under `name` (its weights), `opt_<tag>` and `sched_<tag>`."""

    name: str
    tag: str
    module: M
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler

    def state_dict(self) -> dict[str, Any]:
        return {
            self.name: self.module.state_dict(),
            f"opt_{self.tag}": self.optimizer.state_dict(),
            f"sched_{self.tag}": self.scheduler.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Weights first: a RuntimeError from them means the checkpoint does not fit the network."""
        self.module.load_state_dict(state[self.name])
        self.optimizer.load_state_dict(state[f"opt_{self.tag}"])
        self.scheduler.load_state_dict(state[f"sched_{self.tag}"])


@dataclass
class Progress:
    """Where the training loop stands; every field is saved, and one a checkpoint lacks (written
    before the field existed) takes its default on load."""

    step: int = 0
    epoch: int = 0
    position: int = 0  # batches of this epoch's plan already trained (by this rank)
    plan: list[list[int]] = field(default_factory=list)
    batch_cap: int | None = None  # lowered for good after an out-of-memory
    history: list[dict[str, float]] = field(default_factory=list)
    trained_s: float = 0.0  # wall seconds trained up to the last checkpoint
    validation_s: float = 0.0  # of which validating
    early_stopped: bool = False
    discriminator_off: bool = False

    def state_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        loaded = Progress(**{f.name: state[f.name] for f in dataclasses.fields(self) if f.name in state})
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(loaded, f.name))


@dataclass
class TrainState:
    """The stages and the progress: what a checkpoint holds besides its header and random streams."""

    stages: Sequence[Stage]
    progress: Progress = field(default_factory=Progress)

    def state_dict(self) -> dict[str, Any]:
        state = self.progress.state_dict()
        for stage in self.stages:
            state.update(stage.state_dict())
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for stage in self.stages:
            stage.load_state_dict(state)
        self.progress.load_state_dict(state)
