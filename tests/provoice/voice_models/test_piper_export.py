"""A voice leaves as a standard Piper voice: Piper's inputs only (plus `sid` for a model's voices),
the same audio as ProVoice's own synthesis, a complete config, a model card, a safe file name."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import onnxruntime as ort
import pytest

from provoice.accounts import default_account
from provoice.catalog import Catalog, Voice
from provoice.consent import current_consent
from provoice.errors import NotFound
from provoice.names import safe_file_stem
from provoice.pvc.service import create_pvc
from provoice.pvc.status import PvcStatus
from provoice.tts import synthesize
from provoice.voice_models import (
    PiperExport,
    export_piper_model,
    export_piper_voice,
    load_for_inference,
    piper_voice_zip,
)
from tests.conftest import served_model
from tests.pvc_states import set_status

TEXT = "Hello there."
EVALUATION = {"wer": 0.05, "speaker_similarity": 0.91, "dnsmos": 3.2, "base": {"wer": 0.04}}


class Made:
    def __init__(self, settings):
        self.settings = settings
        self.catalog = Catalog(settings)
        self.account = default_account(self.catalog).id
        self.model_id = served_model(settings, quiet=True)
        dataset = self.catalog.create_dataset("d", account_id=self.account)
        pvc = create_pvc(self.catalog, self.account, dataset.id, "../Ada's voice/¡x!", "tiny-base", settings=settings)
        self.pvc = set_status(
            self.catalog,
            pvc.id,
            PvcStatus.COMPLETED,
            model_id=self.model_id,
            evaluation=EVALUATION,
            dataset_version="v123",
        )
        rng = np.random.default_rng(7)
        self.voices = [self.add_voice(f"Ada {i + 1}", rng.normal(0, 1, 256).tolist()) for i in range(3)]

    def add_voice(self, name: str, embedding: list[float], account: str | None = None) -> Voice:
        voice = Voice(
            account_id=account or self.account,
            pvc_id=self.pvc.id,
            model_id=self.model_id,
            name=name,
            source_file_id="f",
            clip_uri="file:///clip.wav",
            clip_start=0.0,
            clip_end=1.0,
            embedding=embedding,
        )
        with self.catalog.session() as s:
            s.add(voice)
        return voice


@pytest.fixture
def made(settings) -> Made:
    return Made(settings)


def session(path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def speak(sess: ort.InferenceSession, ids: list[int], length_scale: float, sid: int | None = None) -> np.ndarray:
    """As Piper's runtime feeds a voice (`sid` only for a multi-speaker one), reading output 0."""
    feeds = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array([0.0, length_scale, 0.0], dtype=np.float32),
    }
    if sid is not None:
        feeds["sid"] = np.array([sid], dtype=np.int64)
    return sess.run(None, feeds)[0].squeeze()


def ours(made: Made, voice: Voice) -> np.ndarray:
    generator, meta = load_for_inference(made.settings, made.model_id)
    audio, _ = synthesize(generator, meta, TEXT, np.asarray(voice.embedding, np.float32), noise_scale=0.0, noise_w=0.0)
    return audio


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    assert abs(len(a) - len(b)) <= 256
    n = min(len(a), len(b))
    return float(np.corrcoef(np.clip(a[:n], -1, 1), b[:n])[0, 1])


def sentence_ids(made: Made) -> list[int]:
    _, meta = load_for_inference(made.settings, made.model_id)
    [(_, ids)] = meta.front_end().sentence_units(TEXT)
    return ids


def test_a_voice_exports_as_a_single_speaker_piper_voice_that_speaks_as_provoice_does(made, tmp_path):
    voice = made.voices[1]
    export = export_piper_voice(made.settings, made.catalog, voice.id, tmp_path / "out", made.account)
    assert isinstance(export, PiperExport) and export.name == "Ada_2" and export.num_speakers == 1
    assert [p.name for p in export.files] == ["Ada_2.onnx", "Ada_2.onnx.json", "Ada_2.md"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in export.files)
    assert min(export.correlations) >= 0.99

    sess = session(export.onnx_path)
    assert [i.name for i in sess.get_inputs()] == ["input", "input_lengths", "scales"]
    assert [o.name for o in sess.get_outputs()] == ["output"]

    config = json.loads(export.config_path.read_text())
    assert config["num_speakers"] == 1 and config["speaker_id_map"] == {}
    assert config["audio"]["sample_rate"] == 22050 and config["espeak"]["voice"] == "en-us"
    assert config["inference"] == {"noise_scale": 0.0, "length_scale": 1.0, "noise_w": 0.0}
    _, meta = load_for_inference(made.settings, made.model_id)
    assert config["phoneme_id_map"] == meta.phoneme_id_map and config["num_symbols"] == meta.config.n_vocab
    assert config["dataset"] == made.pvc.name and config["provoice"]["voice_ids"] == [voice.id]

    audio = speak(sess, sentence_ids(made), config["inference"]["length_scale"])
    assert correlation(ours(made, voice), audio) >= 0.99
    other = ours(made, made.voices[0])
    n = min(len(other), len(audio))
    assert len(other) != len(audio) or not np.allclose(other[:n], audio[:n], atol=1e-3), "the voice is frozen in"


def test_a_model_exports_its_voices_as_one_multi_speaker_piper_voice(made, tmp_path):
    export = export_piper_model(made.settings, made.catalog, made.model_id, tmp_path, made.account)
    assert export.name == "Ada_s_voice_x" and export.num_speakers == 3
    assert export.speaker_id_map == {"Ada 1": 0, "Ada 2": 1, "Ada 3": 2} and len(export.correlations) == 3

    sess = session(export.onnx_path)
    assert [i.name for i in sess.get_inputs()] == ["input", "input_lengths", "scales", "sid"]
    assert sess.get_inputs()[3].type == "tensor(int64)"
    assert [o.name for o in sess.get_outputs()] == ["output"]
    config = json.loads(export.config_path.read_text())
    assert config["num_speakers"] == 3 and config["speaker_id_map"] == export.speaker_id_map

    ids = sentence_ids(made)
    for voice in made.voices:
        sid = config["speaker_id_map"][voice.name]
        assert correlation(ours(made, voice), speak(sess, ids, 1.0, sid)) >= 0.99


def test_the_model_card_says_where_the_voice_came_from(made, tmp_path):
    card = export_piper_voice(made.settings, made.catalog, made.voices[0].id, tmp_path).card_path.read_text()
    for fact in (
        made.pvc.name,
        made.pvc.id,
        "`tiny-base`",
        made.pvc.dataset_id,
        "`v123`",
        "wer: 0.050",
        "(base model: 0.040)",
        "speaker similarity: 0.910",
        "see the base model's source",
        "Fine-tune recipe: not recorded",
        "piper -m Ada_1.onnx",
        "pip install piper-tts",
    ):
        assert fact in card, fact
    assert current_consent(made.catalog, made.pvc.id) is None and "Consent: none recorded" in card


def test_another_accounts_voice_or_model_is_not_found(made, tmp_path):
    from provoice.accounts import create_account

    other = create_account(made.catalog, "mallory").id
    with pytest.raises(NotFound):
        export_piper_voice(made.settings, made.catalog, made.voices[0].id, tmp_path / "out", other)
    with pytest.raises(NotFound):
        export_piper_model(made.settings, made.catalog, made.model_id, tmp_path / "out", other)
    assert not (tmp_path / "out").exists()


def test_the_zip_holds_the_voice_and_its_card(made):
    filename, data = piper_voice_zip(made.settings, made.catalog, made.voices[2].id, made.account)
    assert filename == "Ada_3.zip"
    assert sorted(zipfile.ZipFile(io.BytesIO(data)).namelist()) == ["Ada_3.md", "Ada_3.onnx", "Ada_3.onnx.json"]


@pytest.mark.parametrize(
    "name, stem",
    [
        ("../../etc/passwd", "etc_passwd"),
        ("a/b\\c", "a_b_c"),
        ("Zoë’s voice\x00\u202e", "Zoes_voice"),
        ("...", "voice"),
        ("x..y", "x.y"),
        ("-rf *", "rf"),
        ("Narrator 1", "Narrator_1"),
    ],
)
def test_file_names_made_from_names_stay_inside_the_folder(name, stem):
    assert safe_file_stem(name) == stem


def test_an_odd_voice_name_gives_a_safe_file_name(made, tmp_path):
    voice = made.add_voice("../../evil\n name", made.voices[0].embedding)
    export = export_piper_voice(made.settings, made.catalog, voice.id, tmp_path / "d", made.account)
    assert export.name == "evil_name" and export.onnx_path.parent == tmp_path / "d"
