"""The proof that a voice leaves as a standard Piper voice: the real Piper runtime (piper-tts 1.8.0,
in its own throwaway environment) speaks ProVoice's exports, single and multi-speaker, with the
words Whisper hears and the voice ProVoice itself synthesises, and a single-speaker export imports
back as a base model that speaks the same voice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import wer

pytestmark = pytest.mark.integration

TEXT = "The quick brown fox jumps over the lazy dog. Please call Stella and ask her to bring these things."
#: espeak voices whose Resemblyzer embeddings condition the model's voices (cosine 0.66 between the
#: first two: the two voices the multi-speaker test tells apart).
REFERENCE_VOICES = [("en-us", None), ("en-us+f3", 70), ("en-gb+m3", 30)]
#: Std of the moved voice layers (cond_proj at 1.0): calibrated on the Joe base so a voice's speech
#: of TEXT has similarity ~0.75-0.8 to the base's own speech of it and ~0.83-0.87 to another
#: voice's, while Whisper still hears every word (at 0.3 words start to go).
VOICE_LAYER_STD = 0.2
MIN_SAME_VOICE = 0.9


@dataclass
class JoeVoices:
    settings: object
    catalog: object
    base_id: str
    model_id: str
    voices: list  # catalog Voice rows, in REFERENCE_VOICES order
    embeddings: list[np.ndarray]
    provoice_speech: list[np.ndarray]  # speaker embeddings of ProVoice's own synthesis of TEXT, per voice
    base_speech: np.ndarray  # ... and of the base model's


def _speaker(audio: np.ndarray, rate: int) -> np.ndarray:
    from provoice.audio.resample import to_16k
    from provoice.quality.speaker import embed, load_encoder

    e = embed(load_encoder(), to_16k(np.asarray(audio, np.float32), rate))
    assert e is not None, "too little voice to embed"
    return e


def _read(wav: Path) -> tuple[np.ndarray, int]:
    from provoice.audio.wavio import read_slice, read_wav_info

    rate, _ = read_wav_info(wav)
    return read_slice(wav, 0, 120), rate


def _heard(audio: np.ndarray, rate: int, settings) -> str:
    from provoice.asr.whisper import load_model, transcribe_one
    from provoice.audio.resample import to_16k

    return transcribe_one(load_model(settings.asr_model), to_16k(audio, rate).astype(np.float32)).text


@pytest.fixture(scope="module")
def joe(tmp_path_factory) -> JoeVoices:
    """The Joe Piper voice imported as a base, fine-tuned the cheap way (voice conditioning whose
    voice layers are moved, exported as the fine-tune flow exports it), with three voices of one
    PVC on it; made once for the module."""
    import torch

    from provoice import synthetic
    from provoice.accounts import create_account
    from provoice.catalog import Catalog, Voice
    from provoice.pvc.service import create_pvc
    from provoice.settings import Settings
    from provoice.storage import Storage
    from provoice.voice_models import BaseModelRegistry, export_voice_onnx, load_synthesizer
    from provoice.voice_models.export import export_generator
    from provoice.voice_models.finetune import with_voice_conditioning
    from provoice.voice_models.model_store import MODELS_PREFIX

    work = tmp_path_factory.mktemp("piper-runtime")
    settings = Settings(home=work / "home")
    registry = BaseModelRegistry(settings)
    base = registry.import_piper_onnx("en_US-joe-medium", steps=10)  # the posterior encoder is unused here
    generator, _, meta = registry.load(base.id, with_discriminator=False)
    conditioned = with_voice_conditioning(generator, text_side=False)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in conditioned.voice.named_parameters():
            if name == "cond_proj.weight":
                p.normal_(0, 1.0)
            elif not name.startswith(("enc_p", "dp", "cond_proj")):
                p.normal_(0, VOICE_LAYER_STD)
    model_id = f"{base.id}/piper-runtime"
    export_generator(
        Storage.from_settings(settings),
        MODELS_PREFIX,
        model_id,
        conditioned.eval(),
        meta.phoneme_id_map,
        metadata={
            "base_model": meta.to_json(),
            "inference": {"noise_scale": 0.333, "length_scale": 1.0, "noise_w": 0.8},
        },
    )
    export_voice_onnx(settings, model_id)

    embeddings = []
    for i, (espeak_voice, pitch) in enumerate(REFERENCE_VOICES):
        clip = synthetic.speak(
            "A reference clip in one voice, read at an easy pace for the encoder.",
            work / f"reference{i}.wav",
            espeak_voice,
            pitch,
        )
        embeddings.append(_speaker(*_read(clip)))

    catalog = Catalog(settings)
    account = create_account(catalog, "piper")
    ds = catalog.create_dataset("d", account_id=account.id)
    pvc = create_pvc(catalog, account.id, ds.id, "Narrator", base.id, settings=settings)
    voices = []
    with catalog.session() as s:
        for i, e in enumerate(embeddings):
            voice = Voice(
                account_id=account.id,
                pvc_id=pvc.id,
                model_id=model_id,
                name=f"Narrator {i + 1}",
                source_file_id=f"f_source{i}",
                clip_uri=f"file:///clip{i}.wav",
                clip_start=0.0,
                clip_end=2.0,
                embedding=[float(x) for x in e],
            )
            s.add(voice)
            voices.append(voice)

    synth = load_synthesizer(settings, model_id)
    provoice_speech = [_speaker(*synth.synthesize(TEXT, e, seed=0)) for e in embeddings]
    base_speech = _speaker(*load_synthesizer(settings, base.id).synthesize(TEXT, seed=0))
    return JoeVoices(settings, catalog, base.id, model_id, voices, embeddings, provoice_speech, base_speech)


@pytest.fixture(scope="module")
def single_export(joe, tmp_path_factory, piper_runtime):
    """Voice 1's single-speaker export and Piper's reading of TEXT with it."""
    from provoice.voice_models import export_piper_voice

    dest = tmp_path_factory.mktemp("single")
    export = export_piper_voice(joe.settings, joe.catalog, joe.voices[0].id, dest)
    wav = piper_runtime(export.onnx_path, TEXT, dest / "piper.wav")
    return export, wav


def test_piper_speaks_a_single_speaker_export(joe, single_export):
    export, wav = single_export
    assert export.onnx_path.is_file() and export.config_path == Path(f"{export.onnx_path}.json")
    assert export.num_speakers == 1
    audio, rate = _read(wav)
    heard = _heard(audio, rate, joe.settings)
    voice = _speaker(audio, rate)
    same, base = float(voice @ joe.provoice_speech[0]), float(voice @ joe.base_speech)
    print(
        f"Piper: {heard!r}, WER {wer(TEXT, heard):.3f}; similarity to ProVoice's voice {same:.3f}, "
        f"to the base {base:.3f}"
    )
    assert rate == 22050 and wer(TEXT, heard) <= 0.2
    assert same >= MIN_SAME_VOICE and same > base + 0.05


def test_piper_speaks_each_voice_of_a_multi_speaker_export(joe, piper_runtime, tmp_path):
    from provoice.voice_models import export_piper_model

    export = export_piper_model(joe.settings, joe.catalog, joe.model_id, tmp_path)
    assert export.num_speakers == len(joe.voices)
    assert sorted(export.speaker_id_map) == sorted(v.name for v in joe.voices)
    heard = {}
    for i in (0, 1):
        sid = export.speaker_id_map[joe.voices[i].name]
        audio, rate = _read(piper_runtime(export.onnx_path, TEXT, tmp_path / f"sid{sid}.wav", speaker=sid))
        voice = _speaker(audio, rate)
        heard[i] = (float(voice @ joe.provoice_speech[0]), float(voice @ joe.provoice_speech[1]))
        print(
            f"--speaker {sid} ({joe.voices[i].name}): similarity to voice 1 {heard[i][0]:.3f}, "
            f"to voice 2 {heard[i][1]:.3f}"
        )
        assert heard[i][i] >= MIN_SAME_VOICE
    assert heard[0][0] > heard[0][1] + 0.03 and heard[1][1] > heard[1][0] + 0.03
    text = _heard(*_read(tmp_path / f"sid{export.speaker_id_map[joe.voices[1].name]}.wav"), joe.settings)
    assert wer(TEXT, text) <= 0.2, text


def test_a_single_speaker_export_imports_back_as_a_base_model(joe, single_export):
    """Imported back, the export is the voice: ProVoice's synthesis with it matches ProVoice's own
    synthesis of the voice (same engine, same seed) and Piper's reading of the export (another
    engine's noise: a little lower), far above the base's."""
    from provoice.voice_models import BaseModelRegistry, load_synthesizer

    export, wav = single_export
    piper_voice = _speaker(*_read(wav))
    back = BaseModelRegistry(joe.settings).import_piper_onnx(str(export.onnx_path), steps=5)
    assert back.id == f"piper-{export.name}-v1" and back.newly_registered
    audio, rate = load_synthesizer(joe.settings, back.id).synthesize(TEXT, seed=0)
    heard, voice = _heard(audio, rate, joe.settings), _speaker(audio, rate)
    same_engine, to_piper = float(voice @ joe.provoice_speech[0]), float(voice @ piper_voice)
    base_to_piper = float(piper_voice @ joe.base_speech)
    print(
        f"imported back: {heard!r}, WER {wer(TEXT, heard):.3f}; similarity to ProVoice's synthesis of the voice "
        f"{same_engine:.3f}, to Piper's reading {to_piper:.3f} (the base's to Piper's reading {base_to_piper:.3f})"
    )
    assert wer(TEXT, heard) <= 0.2
    lost = (
        "the export imported back speaks another voice than the one exported: the voice frozen into the "
        "graph must live in the Piper-named weights the importer reads"
    )
    assert same_engine >= 0.95, lost
    assert to_piper >= 0.85 and to_piper > base_to_piper + 0.1, lost
