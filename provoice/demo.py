"""`make demo`: generate a small one-speaker dataset (several formats plus bad uploads), ingest it,
prepare it with the Prefect flows on the default local settings, and print what a user sees."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from provoice import synthetic
from provoice.catalog import Catalog
from provoice.settings import Settings

DEMO_FORMATS = ["wav", "mp3", "flac", "ogg", "m4a", "opus", "webm", "wma", "aac", "ac3"]


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
    for case, name in [("truncated_mp3", "interview (cut off).mp3"), ("text_as_wav", "notes.wav"),
                       ("noise", "room tone.wav"), ("aiff", "old export.aiff")]:
        shutil.move(bad[case], folder / name)
    shutil.rmtree(folder / "tmp")
    synthetic.speech_file(folder / "guest speaker.wav", synthetic.corpus(8, start=5),
                          voice=synthetic.OTHER_VOICE, pitch=70)
    shutil.copy(folder / "chapter 01.wav", folder / "re-upload of chapter 01.wav")
    return folder


def main() -> None:
    from flows.ingest import ingest_files
    from flows.prepare import prepare_dataset

    console = Console()
    synthetic.require_tools()
    settings = Settings()
    folder = generate(settings.home / "demo-input")
    console.print(f"[bold]ProVoice demo[/] — home {settings.home}, storage {settings.storage_uri}")
    console.print(f"generated {len(list(folder.iterdir()))} uploads in {folder}")
    started = time.time()
    ds = Catalog(settings).create_dataset("Demo narrator")
    ingest_files(ds.id, [str(folder)])
    summary = prepare_dataset(ds.id)
    table = Table(title=f"dataset {ds.id} — version {summary['version']}")
    for col in ("file", "status", "accepted", "reason / warning"):
        table.add_column(col, overflow="fold")
    report_files = {f["id"]: f for f in summary["files"]}
    for f in Catalog(settings).files(ds.id):
        colour = "green" if f.status == "accepted" else "red"
        note = f.reason or "; ".join(f.warnings or []) or ""
        table.add_row(f.original_name, f"[{colour}]{f.status}[/]",
                      f"{report_files[f.id]['accepted_s']:.1f} s", note)
    console.print(table)
    console.print(f"[bold]{summary['message']}[/]")
    console.print(f"manifest: {summary['manifest_uri']}\nreport:   {summary['report_uri']}")
    console.print("Prefect UI: `.venv/bin/prefect server start`, then open http://127.0.0.1:4200 "
                  "(flow runs, per-file tasks and the report artifacts are there)")
    console.print(f"finished in {time.time() - started:.0f} s. Next: `.venv/bin/provoice dataset show {ds.id}`, "
                  f"`.venv/bin/provoice dataset export {ds.id} --format ljspeech ./demo-ljspeech`")


if __name__ == "__main__":
    main()
