"""A PVC's training budget: fixed at its first start, what is left of it trained by each retry."""

from __future__ import annotations

import math
from dataclasses import dataclass

from provoice.errors import InvalidSource
from provoice.settings import Settings

__all__ = ["Budget", "checked_budget"]


@dataclass(frozen=True)
class Budget:
    """A training budget: steps, minutes or both (the first reached ends training)."""

    max_steps: int | None = None
    max_minutes: float | None = None

    @property
    def empty(self) -> bool:
        return self.max_steps is None and self.max_minutes is None


def checked_budget(settings: Settings, budget: Budget) -> Budget:
    """A finite, positive budget within `max_train_minutes` / `max_train_steps`, or InvalidSource."""
    steps, minutes = budget.max_steps, budget.max_minutes
    if steps is not None and not (isinstance(steps, int) and 1 <= steps <= settings.max_train_steps):
        raise InvalidSource(
            f"max_steps must be a whole number from 1 to {settings.max_train_steps:,} "
            f"(PROVOICE_MAX_TRAIN_STEPS), not {steps!r}"
        )
    if minutes is not None and not (math.isfinite(minutes) and 0 < minutes <= settings.max_train_minutes):
        raise InvalidSource(
            f"max_minutes must be more than 0 and at most {settings.max_train_minutes:g} "
            f"(PROVOICE_MAX_TRAIN_MINUTES), not {minutes!r}"
        )
    return budget
