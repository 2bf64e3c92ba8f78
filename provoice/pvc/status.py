"""The PVC's states and the steps of a training attempt: the one place they are spelled.

Both are `StrEnum`s, so the strings stored in the catalog and sent as JSON stay what they were.
What moves a PVC from one status to another is `provoice.pvc.transitions`."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ACTIVE", "STARTABLE", "PvcStatus", "PvcStep"]


class PvcStatus(StrEnum):
    DRAFT = "draft"
    QUEUED = "queued"
    TRAINING = "training"
    COMPLETED = "completed"
    FAILED = "failed"


class PvcStep(StrEnum):
    """Where a training attempt is, in order (evaluating the model is part of `TRAINING`)."""

    PREPARING_DATA = "preparing data"
    TRAINING = "training"
    CREATING_VOICES = "creating voices"
    CHARGING = "charging"


#: An attempt is running: it holds credits, and the reaper fails it once its worker is gone.
ACTIVE = (PvcStatus.QUEUED, PvcStatus.TRAINING)
#: An attempt may start (a retry: from FAILED only).
STARTABLE = (PvcStatus.DRAFT, PvcStatus.FAILED)
