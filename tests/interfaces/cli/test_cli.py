"""The CLI contract: `--json` prints one JSON document; errors are one line on stderr, non-zero exit."""

import json

import pytest
from typer.testing import CliRunner

from interfaces.cli import app
from provoice import synthetic

runner = CliRunner()


def run(*args):
    result = runner.invoke(app, list(args))
    return result


def test_errors_are_one_clear_line(settings):
    r = run("dataset", "show", "ds_missing", "--json")
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.strip() == "error: no dataset with id 'ds_missing' (see `provoice dataset list`)"
    r = run("dataset", "create", "x", "--from", "/no/such/dir")
    assert r.exit_code == 1 and "no such file or directory: /no/such/dir" in r.stderr
    r = run("dataset", "add", "ds_missing", "s3//bad")
    assert r.exit_code == 1 and "Traceback" not in r.stderr


@pytest.mark.integration
def test_dataset_lifecycle_json(prefect_harness, settings, speech_dir, tmp_path):
    up = tmp_path / "up"
    up.mkdir()
    synthetic.speech_file(up / "one.wav", synthetic.SENTENCES[:2])
    synthetic.encode(speech_dir / "main.wav", up / "two.ogg", "ogg")
    r = run("dataset", "create", "My voice", "--from", str(up), "--json")
    assert r.exit_code == 0, r.stderr
    created = json.loads(r.stdout)
    assert created["name"] == "My voice" and len(created["files"]) == 2
    ds = created["id"]
    (tmp_path / "three.wav").write_bytes((up / "one.wav").read_bytes())
    assert [d["id"] for d in json.loads(run("dataset", "list", "--json").stdout)] == [ds]

    r = run("dataset", "add", ds, str(tmp_path / "three.wav"), "--prepare", "--json")  # add, then prepare
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    dup = next(f for f in summary["files"] if f["name"] == "three.wav")
    assert dup["status"] == "rejected" and "duplicate of 'one.wav'" in dup["reason"]
    assert set(summary) >= {"dataset_id", "version", "accepted_seconds", "min_seconds", "enough", "report_url", "files"}
    assert not {"manifest_uri", "report_uri"} & set(summary), "replies name stored objects by route, not URI"
    assert summary["min_seconds"] == 30 and summary["enough"] is False
    for f in summary["files"]:
        assert set(f) == {
            "id",
            "name",
            "status",
            "reason",
            "duration_s",
            "accepted_s",
            "segments",
            "transcript_accuracy",
        }
    accepted = [f for f in summary["files"] if f["status"] == "accepted"]
    assert {f["name"] for f in accepted} == {"one.wav", "two.ogg"}
    assert all(0.5 < f["transcript_accuracy"] <= 1 for f in accepted)

    shown = json.loads(run("dataset", "show", ds, "--json").stdout)
    assert shown["latest_preparation"]["version"] == summary["version"]
    dest = tmp_path / "export"
    assert run("dataset", "export", ds, "--format", "ljspeech", str(dest)).exit_code == 0
    lines = (dest / "metadata.csv").read_text().splitlines()
    assert len(lines) == sum(f["segments"] for f in accepted)
    assert all((dest / "wavs" / f"{line.split('|')[0]}.wav").exists() for line in lines)
    assert run("dataset", "export", ds, "--format", "jsonl", str(tmp_path / "m.jsonl")).exit_code == 0
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == len(lines)

    dup = next(f for f in json.loads(run("dataset", "show", ds, "--json").stdout)["files"] if f["name"] == "three.wav")
    assert run("dataset", "remove-file", ds, dup["id"]).exit_code == 0
    assert len(json.loads(run("dataset", "show", ds, "--json").stdout)["files"]) == 2


HEAVY = ("torch", "faster_whisper", "ctranslate2", "resemblyzer", "onnxruntime", "prefect")


@pytest.mark.parametrize(
    "args", [["dataset", "list"], ["credits", "balance"], ["voices", "list"], ["server", "status"]]
)
def test_commands_that_need_no_model_import_none(settings, args):
    """A command pays only for what it uses: listing and balances load no model and no Prefect."""
    import subprocess
    import sys
    from pathlib import Path

    probe = (
        "import sys\nfrom interfaces.cli import app\n"
        "try:\n    app(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe, *args, "--json"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
        timeout=120,
    )
    assert r.stderr.strip().splitlines()[-1] == "[]", r.stderr


def test_speaking_with_a_voice_on_onnxruntime_imports_no_torch(settings, tmp_path):
    """`provoice tts` with a fine-tuned model's voice runs on its ONNX graph: onnxruntime, not torch."""
    import subprocess
    import sys
    from pathlib import Path

    from provoice.accounts import default_account
    from provoice.catalog import Catalog
    from provoice.credits import grant
    from tests.conftest import served_model
    from tests.interfaces.api.conftest import make_voice

    catalog = Catalog(settings)
    account = default_account(catalog).id
    grant(catalog, account, 1000)
    model_id = served_model(settings)
    voice = make_voice(catalog, account, model_id)
    out = tmp_path / "hello.wav"
    probe = (
        "import sys\nfrom interfaces.cli import app\n"
        "try:\n    app(sys.argv[1:])\nexcept SystemExit as e:\n    print('exit', e.code, file=sys.stderr)\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
    )
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            "tts",
            "--model-id",
            model_id,
            "--voice-id",
            voice.id,
            "--text",
            "Hello there.",
            "-o",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
        timeout=300,
    )
    assert "exit 0" in r.stderr or "exit None" in r.stderr, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "['onnxruntime']", r.stderr
    assert json.loads(r.stdout)["duration_s"] > 0 and out.stat().st_size > 1000
