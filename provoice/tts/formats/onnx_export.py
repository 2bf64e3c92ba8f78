"""ONNX export of a VITS generator with Piper's interface, so it runs wherever Piper voices run.

Inputs `input` (int64 [B, T] phoneme ids), `input_lengths` (int64 [B]) and `scales` (float32 [3]:
noise_scale, length_scale, noise_w); a conditioned model exported without a fixed voice also takes
`g` (float32 [B, speaker_embedding_dim]), and one exported with several voices (their embeddings a
table in the graph) takes Piper's `sid` (int64 [B]) instead. One fixed voice is folded into
Piper's own biases, so that graph is a plain Piper voice. Output `output` (float32 [B, 1, 1,
samples]), the shape Piper's runtimes squeeze; a `timed` graph (the one ProVoice serves) also
outputs `durations` (float32 [B, phonemes], frames per phoneme id), which word timestamps are read
from. Piper's runtimes read the first output only. The sampling noise of the duration predictor and
the prior is drawn inside the graph (RandomNormalLike), so noise scales of 0 make the graph
deterministic.

The graph is traced (torch's TorchScript-based exporter, as Piper does): data-dependent lengths
stay dynamic because every length is computed with tensor operations, never Python integers.
Weight norm is folded first, so weights appear once, under Piper's names (`<module>.weight`).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from provoice.tts.errors import ExportError
from provoice.tts.model.commons import generate_path
from provoice.tts.model.conditioning import VoiceBiases, VoiceConditioning
from provoice.tts.model.layers import WeightNormed
from provoice.tts.model.synthesizer import SynthesizerTrn
from provoice.tts.train.checkpoint import preserved_rng

OPSET = 15
MIN_CORRELATION = 0.99


class PiperInterface(nn.Module):
    """`SynthesizerTrn.infer` with tensor-valued scales and lengths, traceable to ONNX.

    With `speaker_embedding`, a conditioned model's voice biases are computed once and frozen into
    the graph (a plain Piper voice; `export_onnx_file` folds them into Piper's own biases where it
    can); without it a conditioned model takes `g` as a fourth input.
    """

    def __init__(
        self, generator: SynthesizerTrn, speaker_embedding: torch.Tensor | None = None, timed: bool = False
    ) -> None:
        super().__init__()
        self.timed = timed
        self.config = generator.config
        # Registered under the generator's own names, so graph weights carry Piper's names.
        self.enc_p, self.dp, self.flow, self.dec = generator.enc_p, generator.dp, generator.flow, generator.dec
        self.voice = generator.voice
        self.fixed: VoiceBiases | None = None
        if speaker_embedding is not None:
            if generator.voice is None:
                raise ValueError("a speaker embedding was given but the model has no voice conditioning")
            with torch.no_grad():
                self.fixed = generator.voice(speaker_embedding.reshape(1, -1).float())

    @property
    def takes_g(self) -> bool:
        return self.voice is not None and self.fixed is None

    def forward(
        self,
        input: torch.Tensor,
        input_lengths: torch.Tensor,
        scales: torch.Tensor,
        g: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        biases = self.voice(g) if g is not None and self.voice is not None else self.fixed
        return self.speak(input, input_lengths, scales, biases)

    def speak(
        self,
        input: torch.Tensor,
        input_lengths: torch.Tensor,
        scales: torch.Tensor,
        biases: VoiceBiases | None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        noise_scale, length_scale, noise_w = scales[0], scales[1], scales[2]
        h, m_p, logs_p, x_mask = self.enc_p(input, input_lengths, cond=biases.enc_p if biases else None)
        dp_cond = biases.dp if biases else None
        if self.config.use_sdp:
            logw = self.dp(h, x_mask, cond=dp_cond, reverse=True, noise_scale=noise_w)
        else:
            logw = self.dp(h, x_mask, cond=dp_cond)
        w_ceil = torch.ceil(torch.exp(logw) * x_mask * length_scale)
        y_lengths = torch.clamp_min(torch.sum(w_ceil, [1, 2]), 1).long()
        positions = torch.arange(y_lengths.max(), device=y_lengths.device)  # type: ignore[call-overload]  # a tensor keeps it dynamic
        y_mask = (positions.unsqueeze(0) < y_lengths.unsqueeze(1)).unsqueeze(1).to(x_mask.dtype)
        attn = generate_path(w_ceil, x_mask.unsqueeze(2) * y_mask.unsqueeze(-1))
        m_p = (attn.squeeze(1) @ m_p.transpose(1, 2)).transpose(1, 2)
        logs_p = (attn.squeeze(1) @ logs_p.transpose(1, 2)).transpose(1, 2)
        z_p = m_p + torch.randn_like(m_p) * torch.exp(logs_p) * noise_scale
        z = self.flow(z_p, y_mask, conds=biases.flow if biases else None, reverse=True)
        audio = self.dec(z * y_mask, cond=biases.dec if biases else None)
        if self.timed:
            return audio.unsqueeze(1), w_ceil.squeeze(1)
        return audio.unsqueeze(1)


class MultiSpeakerInterface(PiperInterface):
    """A conditioned model with several voices: Piper's `sid` picks a row of the embedding table
    held in the graph, so a standard multi-speaker Piper host can speak every voice."""

    speaker_table: torch.Tensor
    voice: VoiceConditioning

    def __init__(self, generator: SynthesizerTrn, speaker_embeddings: torch.Tensor, timed: bool = False) -> None:
        if generator.voice is None:
            raise ValueError("speaker embeddings were given but the model has no voice conditioning")
        super().__init__(generator, None, timed)
        self.register_buffer("speaker_table", speaker_embeddings.float())

    @property
    def takes_g(self) -> bool:
        return False

    def forward(  # type: ignore[override]  # Piper's multi-speaker graph takes `sid` where `g` was
        self,
        input: torch.Tensor,
        input_lengths: torch.Tensor,
        scales: torch.Tensor,
        sid: torch.Tensor,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        g = torch.index_select(self.speaker_table, 0, sid)
        return self.speak(input, input_lengths, scales, self.voice(g))


def export_onnx_file(
    generator: SynthesizerTrn,
    path: str | Path,
    speaker_embedding: np.ndarray | torch.Tensor | None = None,
    opset: int = OPSET,
    timed: bool = False,
    speaker_embeddings: Sequence[np.ndarray] | None = None,
) -> PiperInterface:
    """Write the ONNX graph to a local `path`; the caller's model is neither moved nor changed.

    `speaker_embeddings` (several voices of a conditioned model) make a multi-speaker graph with
    input `sid`; it excludes `speaker_embedding`.
    """
    model = copy.deepcopy(generator).cpu().float().eval()
    for module in model.modules():
        if isinstance(module, WeightNormed):
            module.remove_weight_norm()
    embedding = None if speaker_embedding is None else torch.as_tensor(np.asarray(speaker_embedding, np.float32))
    if embedding is not None and embedding.numel() != model.config.speaker_embedding_dim:
        raise ValueError(f"speaker embedding must have {model.config.speaker_embedding_dim} values")
    dim = model.config.speaker_embedding_dim
    if speaker_embeddings is not None:
        if embedding is not None:
            raise ValueError("give either one speaker embedding or several, not both")
        table = torch.as_tensor(np.stack([np.asarray(e, np.float32).reshape(-1) for e in speaker_embeddings]))
        if table.size(0) == 0 or table.size(1) != dim:
            raise ValueError(f"speaker embeddings must be one or more rows of {dim} values")
        wrapper: PiperInterface = MultiSpeakerInterface(model, table, timed).eval()
    elif embedding is not None and fold_voice(model, embedding):
        wrapper = PiperInterface(model, None, timed).eval()
    else:
        wrapper = PiperInterface(model, embedding, timed).eval()
    ids = sample_phoneme_ids(model.config.n_vocab)
    args: tuple[torch.Tensor, ...] = (ids, torch.tensor([ids.size(1)]), torch.tensor([0.667, 1.0, 0.8]))
    names = ["input", "input_lengths", "scales"]
    axes: dict[str, dict[int, str]] = {
        "input": {0: "batch_size", 1: "phonemes"},
        "input_lengths": {0: "batch_size"},
        "output": {0: "batch_size", 3: "time"},
    }
    outputs = ["output"]
    if timed:
        outputs.append("durations")
        axes["durations"] = {0: "batch_size", 1: "phonemes"}
    if wrapper.takes_g:
        args += (torch.zeros(1, dim),)
        names.append("g")
        axes["g"] = {0: "batch_size"}
    elif isinstance(wrapper, MultiSpeakerInterface):
        args += (torch.zeros(1, dtype=torch.long),)
        names.append("sid")
        axes["sid"] = {0: "batch_size"}
    with preserved_rng(), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        torch.onnx.export(
            wrapper,
            args,
            str(path),
            dynamo=False,
            input_names=names,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
        )
    return wrapper


def fold_voice(model: SynthesizerTrn, embedding: torch.Tensor) -> bool:
    """Add one voice's biases into the biases of the layers they follow and drop the conditioning, so
    the graph is a plain Piper voice: Piper's weights under Piper's names and nothing else, which any
    Piper tool reads (an importer gets the voice back). Exact: each bias is added right after a layer
    with a bias (or the encoder's last LayerNorm). False, with `model` unchanged, where a voice bias
    has no such place (a deterministic duration predictor's input): the caller keeps the biases."""
    if model.voice is None:
        raise ValueError("a speaker embedding was given but the model has no voice conditioning")
    with torch.no_grad():
        biases = model.voice(embedding.reshape(1, -1).float())
        if not model.config.use_sdp and bool(biases.dp.abs().max() > 0):
            return False
        couplings = [flow for flow in model.flow.flows if hasattr(flow, "pre")]
        model.enc_p.encoder.norm_layers_2[-1].beta += biases.enc_p.reshape(-1)
        if model.config.use_sdp:
            _bias_of(model.dp.pre).add_(biases.dp.reshape(-1))
        for layer, bias in zip(couplings, biases.flow, strict=True):
            _bias_of(layer.pre).add_(bias.reshape(-1))
        _bias_of(model.dec.conv_pre).add_(biases.dec.reshape(-1))
    model.voice = None
    return True


def _bias_of(layer: object) -> torch.Tensor:
    bias = getattr(layer, "bias", None)
    if not isinstance(bias, torch.Tensor):
        raise ExportError(f"{type(layer).__name__} has no bias to fold a voice into")
    return bias


def sample_phoneme_ids(n_vocab: int, length: int = 12) -> torch.Tensor:
    """A fixed phoneme sequence ([1, length], ids 1..n_vocab-1) for tracing and checks."""
    return (torch.arange(length) * 7 % (n_vocab - 1) + 1).unsqueeze(0)


def verify_onnx(
    path: str | Path,
    generator: SynthesizerTrn,
    speaker_embedding: np.ndarray | torch.Tensor | None = None,
    min_correlation: float = MIN_CORRELATION,
    speaker_id: int | None = None,
) -> float:
    """Correlation of onnxruntime's output with the torch generator at noise scales 0.

    A graph that takes `g` is fed `speaker_embedding` (or zeros), a multi-speaker graph `speaker_id`
    (whose voice `speaker_embedding` must be); raises `ExportError` when the
    two disagree in length or correlate below `min_correlation`.
    """
    import onnxruntime as ort

    model = copy.deepcopy(generator).cpu().float().eval()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    ids = sample_phoneme_ids(model.config.n_vocab, 20)
    feeds = {
        "input": ids.numpy(),
        "input_lengths": np.array([ids.size(1)], dtype=np.int64),
        "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
    }
    g = None
    if model.voice is not None:
        dim = model.config.speaker_embedding_dim
        values = np.zeros(dim, np.float32) if speaker_embedding is None else speaker_embedding
        g = torch.as_tensor(np.asarray(values, np.float32)).reshape(1, -1)
        inputs = {i.name for i in session.get_inputs()}
        if "g" in inputs:
            feeds["g"] = g.numpy()
        if "sid" in inputs:
            feeds["sid"] = np.array([speaker_id or 0], dtype=np.int64)
    theirs = session.run(["output"], feeds)[0].reshape(-1)
    with preserved_rng():
        ours = (
            model.infer(ids, torch.tensor([ids.size(1)]), noise_scale=0.0, noise_w=0.0, g=g).audio.reshape(-1).numpy()
        )
    if abs(len(ours) - len(theirs)) > model.config.hop_length:
        raise ExportError(f"ONNX output has {len(theirs)} samples, the torch generator {len(ours)}")
    n = min(len(ours), len(theirs))
    if np.allclose(ours[:n], theirs[:n], atol=1e-5):
        return 1.0
    correlation = float(np.corrcoef(ours[:n], theirs[:n])[0, 1])
    if not correlation >= min_correlation:
        raise ExportError(f"ONNX output correlates {correlation:.4f} with the torch generator (< {min_correlation})")
    return correlation
