"""Where an exported model's files live, by model id: torch-free, so serving a model's ONNX graph
can find its files without importing the export code."""

from __future__ import annotations

import re

WEIGHTS_NAME = "generator.pt"
CONFIG_NAME = "config.json"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def model_prefix(prefix: str, model_id: str) -> str:
    """`<prefix>/<model_id>`, with `model_id` restricted to safe path segments such as `base/pvc-1`."""
    parts = model_id.split("/")
    if not all(SAFE_NAME.match(part) for part in parts):
        raise ValueError(f"model id {model_id!r} must be '/'-separated names of letters, digits, '.', '_' or '-'")
    return f"{prefix.strip('/')}/{model_id}" if prefix.strip("/") else model_id


def config_key(prefix: str, model_id: str) -> str:
    """The key whose presence means the model is exported (written last)."""
    return f"{model_prefix(prefix, model_id)}/{CONFIG_NAME}"
