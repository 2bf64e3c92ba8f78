"""The ONNX graphs a conditioned model exports to: one voice folded into Piper's own biases, several
voices behind Piper's `sid`, or the served graph that takes `g`; each reproduces torch."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from provoice.tts import SynthesizerTrn, VitsConfig
from provoice.tts.formats import export_onnx_file, verify_onnx

DIM = 16


def conditioned(use_sdp: bool = True) -> SynthesizerTrn:
    torch.manual_seed(0)
    model = SynthesizerTrn(VitsConfig.tiny(gin_channels=8, speaker_embedding_dim=DIM, use_sdp=use_sdp)).eval()
    with torch.no_grad():
        for p in model.voice.parameters():
            p.normal_(0, 0.5)
    return model


def voices(n: int) -> list[np.ndarray]:
    return [np.random.default_rng(i).normal(0, 1, DIM).astype(np.float32) for i in range(n)]


def inputs(path) -> list[tuple[str, str]]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [(i.name, i.type) for i in session.get_inputs()]


PIPER = [("input", "tensor(int64)"), ("input_lengths", "tensor(int64)"), ("scales", "tensor(float)")]


def test_one_voice_is_folded_into_a_plain_piper_graph(tmp_path):
    model, [voice] = conditioned(), voices(1)
    export_onnx_file(model, tmp_path / "v.onnx", speaker_embedding=voice)
    assert inputs(tmp_path / "v.onnx") == PIPER
    names = {i.name for i in onnx.load(str(tmp_path / "v.onnx")).graph.initializer}
    assert not any(n.startswith("voice.") for n in names) and "dec.conv_pre.bias" in names
    assert verify_onnx(tmp_path / "v.onnx", model, voice) >= 0.99
    assert verify_onnx(tmp_path / "v.onnx", model, voices(2)[1], min_correlation=-1.0) < 1.0, "the voice is in it"


def test_a_voice_bias_with_no_exact_home_stays_a_frozen_bias(tmp_path):
    model, [voice] = conditioned(use_sdp=False), voices(1)
    export_onnx_file(model, tmp_path / "v.onnx", speaker_embedding=voice)
    assert inputs(tmp_path / "v.onnx") == PIPER
    assert verify_onnx(tmp_path / "v.onnx", model, voice) >= 0.99


def test_several_voices_are_picked_by_sid(tmp_path):
    model, table = conditioned(), voices(3)
    wrapper = export_onnx_file(model, tmp_path / "m.onnx", speaker_embeddings=table)
    assert not wrapper.takes_g and inputs(tmp_path / "m.onnx") == [*PIPER, ("sid", "tensor(int64)")]
    for sid, voice in enumerate(table):
        assert verify_onnx(tmp_path / "m.onnx", model, voice, speaker_id=sid) >= 0.99
    with pytest.raises(ValueError, match="either one speaker embedding or several"):
        export_onnx_file(model, tmp_path / "x.onnx", speaker_embedding=table[0], speaker_embeddings=table)
    with pytest.raises(ValueError, match="rows of 16 values"):
        export_onnx_file(model, tmp_path / "x.onnx", speaker_embeddings=[np.zeros(3)])


def test_without_a_voice_the_graph_takes_g(tmp_path):
    model = conditioned()
    export_onnx_file(model, tmp_path / "g.onnx", timed=True)
    assert inputs(tmp_path / "g.onnx") == [*PIPER, ("g", "tensor(float)")]
    assert verify_onnx(tmp_path / "g.onnx", model, voices(1)[0]) >= 0.99
