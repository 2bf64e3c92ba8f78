"""ONNX export of a VITS generator with Piper's interface, so it runs wherever Piper voices run.

Inputs `input` (int64 [B, T] phoneme ids), `input_lengths` (int64 [B]) and `scales` (float32 [3]:
noise_scale, length_scale, noise_w); a conditioned model exported without a fixed voice also takes
`g` (float32 [B, speaker_embedding_dim]). Output `output` (float32 [B, 1, 1, samples]), the shape
Piper's runtimes squeeze; a `timed` graph (the one ProVoice serves) also outputs `durations`
(float32 [B, phonemes], frames per phoneme id), which word timestamps are read from. Piper's
runtimes read the first output only. The sampling noise of the duration predictor and the prior is drawn
inside the graph (RandomNormalLike), so noise scales of 0 make the graph deterministic.

The graph is traced (torch's TorchScript-based exporter, as Piper does): data-dependent lengths
stay dynamic because every length is computed with tensor operations, never Python integers.
Weight norm is folded first, so weights appear once, under Piper's names (`<module>.weight`).
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from provoice.tts.errors import ExportError
from provoice.tts.model.commons import generate_path
from provoice.tts.model.conditioning import VoiceBiases
from provoice.tts.model.layers import WeightNormed
from provoice.tts.model.synthesizer import SynthesizerTrn
from provoice.tts.train.checkpoint import preserved_rng

OPSET = 15
MIN_CORRELATION = 0.99


class PiperInterface(nn.Module):
    """`SynthesizerTrn.infer` with tensor-valued scales and lengths, traceable to ONNX.

    With `speaker_embedding`, a conditioned model's voice biases are computed once and frozen into
    the graph (a plain Piper voice); without it a conditioned model takes `g` as a fourth input.
    """

    def __init__(self, generator: SynthesizerTrn, speaker_embedding: torch.Tensor | None = None,
                 timed: bool = False) -> None:
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
        noise_scale, length_scale, noise_w = scales[0], scales[1], scales[2]
        biases = self.voice(g) if g is not None and self.voice is not None else self.fixed
        h, m_p, logs_p, x_mask = self.enc_p(input, input_lengths, cond=biases.enc_p if biases else None)
        dp_cond = biases.dp if biases else None
        if self.config.use_sdp:
            logw = self.dp(h, x_mask, cond=dp_cond, reverse=True, noise_scale=noise_w)
        else:
            logw = self.dp(h, x_mask, cond=dp_cond)
        w_ceil = torch.ceil(torch.exp(logw) * x_mask * length_scale)
        y_lengths = torch.clamp_min(torch.sum(w_ceil, [1, 2]), 1).long()
        positions = torch.arange(y_lengths.max(), device=y_lengths.device)
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


def export_onnx_file(
    generator: SynthesizerTrn,
    path: str | Path,
    speaker_embedding: np.ndarray | torch.Tensor | None = None,
    opset: int = OPSET,
    timed: bool = False,
) -> PiperInterface:
    """Write the ONNX graph to a local `path`; the caller's model is neither moved nor changed."""
    model = copy.deepcopy(generator).cpu().float().eval()
    for module in model.modules():
        if isinstance(module, WeightNormed):
            module.remove_weight_norm()
    embedding = None if speaker_embedding is None else torch.as_tensor(np.asarray(speaker_embedding, np.float32))
    if embedding is not None and embedding.numel() != model.config.speaker_embedding_dim:
        raise ValueError(f"speaker embedding must have {model.config.speaker_embedding_dim} values")
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
        args += (torch.zeros(1, model.config.speaker_embedding_dim),)
        names.append("g")
        axes["g"] = {0: "batch_size"}
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


def sample_phoneme_ids(n_vocab: int, length: int = 12) -> torch.Tensor:
    """A fixed phoneme sequence ([1, length], ids 1..n_vocab-1) for tracing and checks."""
    return (torch.arange(length) * 7 % (n_vocab - 1) + 1).unsqueeze(0)


def verify_onnx(
    path: str | Path,
    generator: SynthesizerTrn,
    speaker_embedding: np.ndarray | torch.Tensor | None = None,
    min_correlation: float = MIN_CORRELATION,
) -> float:
    """Correlation of onnxruntime's output with the torch generator at noise scales 0.

    A graph that takes `g` is fed `speaker_embedding` (or zeros); raises `ExportError` when the
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
        if "g" in {i.name for i in session.get_inputs()}:
            feeds["g"] = g.numpy()
    theirs = session.run(["output"], feeds)[0].reshape(-1)
    with preserved_rng():
        ours = model.infer(ids, torch.tensor([ids.size(1)]), noise_scale=0.0, noise_w=0.0, g=g).audio
    ours = ours.reshape(-1).numpy()
    if abs(len(ours) - len(theirs)) > model.config.hop_length:
        raise ExportError(f"ONNX output has {len(theirs)} samples, the torch generator {len(ours)}")
    n = min(len(ours), len(theirs))
    if np.allclose(ours[:n], theirs[:n], atol=1e-5):
        return 1.0
    correlation = float(np.corrcoef(ours[:n], theirs[:n])[0, 1])
    if not correlation >= min_correlation:
        raise ExportError(f"ONNX output correlates {correlation:.4f} with the torch generator (< {min_correlation})")
    return correlation
