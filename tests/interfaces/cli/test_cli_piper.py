"""`provoice voices export` and `provoice model export-piper`: a voice, or a model's voices, written as
a standard Piper voice, with the same JSON the API's views give."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from interfaces.cli import app
from provoice.accounts import default_account
from provoice.catalog import Catalog, Voice
from provoice.pvc.service import create_pvc
from tests.conftest import served_model

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def local_voices(settings, names: list[str]) -> tuple[str, list[Voice]]:
    catalog = Catalog(settings)
    account = default_account(catalog).id
    model_id = served_model(settings, quiet=True)
    dataset = catalog.create_dataset("d", account_id=account)
    pvc = create_pvc(catalog, account, dataset.id, "Narrator", "tiny-base", settings=settings)
    voices = [
        Voice(
            account_id=account,
            pvc_id=pvc.id,
            model_id=model_id,
            name=name,
            source_file_id="f",
            clip_uri="file:///clip.wav",
            clip_start=0.0,
            clip_end=1.0,
            embedding=[0.1 * i] * 256,
        )
        for i, name in enumerate(names)
    ]
    with catalog.session() as s:
        s.add_all(voices)
    return model_id, voices


def test_voices_export_writes_a_piper_voice(settings, tmp_path):
    _, [voice] = local_voices(settings, ["Narrator 1"])
    r = run("voices", "export", voice.id, tmp_path / "piper", "--json")
    assert r.exit_code == 0, r.stderr
    made = json.loads(r.stdout)
    assert made["name"] == "Narrator_1" and made["num_speakers"] == 1 and made["speaker_id_map"] == {}
    assert made["onnx_path"] == str(tmp_path / "piper" / "Narrator_1.onnx") and min(made["correlations"]) >= 0.99
    assert sorted(p.name for p in (tmp_path / "piper").iterdir()) == [
        "Narrator_1.md",
        "Narrator_1.onnx",
        "Narrator_1.onnx.json",
    ]
    r = run("voices", "export", voice.id, tmp_path / "again")
    assert r.exit_code == 0 and "Piper voice Narrator_1 (single speaker" in r.stdout


def test_model_export_piper_writes_one_multi_speaker_voice(settings, tmp_path):
    model_id, _ = local_voices(settings, ["Narrator 1", "Narrator 2"])
    r = run("model", "export-piper", model_id, tmp_path, "--json")
    assert r.exit_code == 0, r.stderr
    made = json.loads(r.stdout)
    assert made["num_speakers"] == 2 and made["speaker_id_map"] == {"Narrator 1": 0, "Narrator 2": 1}
    config = json.loads((tmp_path / "Narrator.onnx.json").read_text())
    assert config["num_speakers"] == 2 and config["speaker_id_map"] == made["speaker_id_map"]


def test_an_unknown_voice_is_one_line_and_exit_1(settings, tmp_path):
    r = run("voices", "export", "voice_nope", tmp_path)
    assert r.exit_code == 1 and r.stderr.strip().startswith("error: no voice with id 'voice_nope'")
    r = run("model", "export-piper", "tiny-base/none", tmp_path)
    assert r.exit_code == 1 and "has no voices" in r.stderr
