"""Fine-tuning: the resumable training loop (`Trainer(...).run()`), its config, batches, checkpoint
state (`TrainState`: stages and progress) and the run store;
validation while training and the choice of the best checkpoint; training bundles.

Needs only torch and numpy, so a GPU node can train from a bundle without the data tools.
"""

from provoice.tts.train.batching import TrainingItem
from provoice.tts.train.bundle import INFO as BUNDLE_INFO
from provoice.tts.train.bundle import WEIGHTS as BUNDLE_WEIGHTS
from provoice.tts.train.bundle import Bundle, bundle_files, read_bundle, train_bundle
from provoice.tts.train.config import GENERATOR_MODULES, TrainConfig
from provoice.tts.train.selection import best_step, rank
from provoice.tts.train.state import Progress, Stage, TrainState
from provoice.tts.train.store import LocalRunStore, RunStore
from provoice.tts.train.trainer import Trainer, TrainResult
from provoice.tts.train.validation import Scorer, ValidationSet, Validator, preview_key

__all__ = [
    "BUNDLE_INFO",
    "BUNDLE_WEIGHTS",
    "GENERATOR_MODULES",
    "Bundle",
    "LocalRunStore",
    "Progress",
    "RunStore",
    "Scorer",
    "Stage",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "Trainer",
    "TrainingItem",
    "ValidationSet",
    "Validator",
    "best_step",
    "bundle_files",
    "preview_key",
    "rank",
    "read_bundle",
    "train_bundle",
]
