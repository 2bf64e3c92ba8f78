"""The base of every view, and how a view is kept in ProVoice's own storage."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class View(BaseModel):
    """Read straight from ORM rows (`from_attributes`)."""

    model_config = ConfigDict(from_attributes=True)


def stored(model: BaseModel) -> dict[str, Any]:
    """The model as JSON for ProVoice's own storage: the fields hidden from users included."""
    hidden = {name: getattr(model, name) for name, f in type(model).model_fields.items() if f.exclude}
    return {**model.model_dump(mode="json"), **hidden}
