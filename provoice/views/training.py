"""What training produced: a fine-tune's result, or a bundle written for a GPU node."""

from __future__ import annotations

from pydantic import BaseModel, Field

from provoice.views.evaluation import Evaluation


class FineTuneResult(BaseModel):
    """What a fine-tune produced: the pinned model id, how long it trained and how it scores.

    The pipeline fills the training record (kept as `training/<run_id>/result.json`); the flow adds
    the evaluation and the ONNX voice (kept as `models/<model_id>/fine-tune.json`). Users see the
    model, its budget spent and its scores: the training record and the storage URIs stay with the
    object, out of every dump (`provoice.views.stored` keeps them), and default where an older file
    lacks them."""

    model_id: str
    base_model_id: str
    run_id: str
    dataset_id: str
    dataset_version: str
    steps: int
    stopped_by: str
    best_step: int | None = Field(default=None, description="the validated step whose weights were exported")
    evaluation: Evaluation | None = None
    onnx_uri: str | None = Field(default=None, exclude=True)
    loss_curve_uri: str | None = Field(default=None, exclude=True)
    resumed_from: str | None = Field(default=None, exclude=True)
    loss_curve_key: str | None = Field(default=None, exclude=True)
    batch_size: int | None = Field(default=None, exclude=True)
    processes: int = Field(default=1, exclude=True)
    trained_s: float = Field(default=0.0, exclude=True)
    validation_s: float = Field(default=0.0, exclude=True)
    validation: list[dict] = Field(
        default_factory=list, exclude=True, description="the trainer's validation records, step by step"
    )


class TrainingBundle(BaseModel):
    """A training bundle written for a GPU node that has only torch and numpy."""

    dest: str
    dataset_id: str
    dataset_version: str
    base_model_id: str
    weights: str
    items: int
    audio_seconds: float
    files: dict[str, int] = Field(description="file name -> size in bytes")
    total_bytes: int
    train_command: str
