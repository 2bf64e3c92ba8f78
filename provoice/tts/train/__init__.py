"""Fine-tuning: the resumable training loop, its config, batches, checkpoint state and the run store.

Needs only torch and numpy, so a GPU node can train from a bundle without the data tools.
"""

from provoice.tts.train.batching import TrainingItem
from provoice.tts.train.config import TrainConfig
from provoice.tts.train.store import LocalRunStore, RunStore
from provoice.tts.train.trainer import Trainer, TrainResult, train

__all__ = ["LocalRunStore", "RunStore", "TrainConfig", "TrainResult", "Trainer", "TrainingItem", "train"]
