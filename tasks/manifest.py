"""Manifest step: dataset outputs in storage and their Prefect artifacts."""

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from provoice.dataset.outputs import SpeakerCheck, format_seconds, write_outputs
from provoice.settings import Settings
from provoice.storage import Storage
from tasks.retry import STEP_OPTIONS


def artifact_key(*parts: str) -> str:
    return "-".join(parts).lower().replace("_", "-")


@task(name="manifest", cache_policy=NO_CACHE, **STEP_OPTIONS)
def write_manifest(
    settings: Settings, dataset_id: str, version: str, files: list[dict], rows: list[dict], speakers: SpeakerCheck
) -> dict:
    report = write_outputs(Storage.from_settings(settings), settings, dataset_id, version, files, rows, speakers)
    accepted = sum(1 for f in files if f["status"] == "accepted")
    lines = [
        f"# Dataset {dataset_id} — version `{version}`",
        f"**{report['message']}.**",
        f"- files accepted: {accepted} of {len(files)}",
        f"- segments in the manifest: {report['segments']}",
        f"- accepted speech: {format_seconds(report['accepted_seconds'])} "
        f"(minimum {format_seconds(report['min_seconds'])})",
        f"- manifest: `{report['manifest_uri']}`",
        f"- report: `{report['report_uri']}`",
    ]
    if report["rejection_reasons"]:
        lines.append(
            "\n## Rejections\n"
            + "\n".join(f"- {reason}: {n} file(s)" for reason, n in report["rejection_reasons"].items())
        )
    if report["warnings"]:
        lines.append("\n## Warnings\n" + "\n".join(f"- {w}" for w in report["warnings"]))
    create_markdown_artifact(
        "\n".join(lines), key=artifact_key("dataset", dataset_id, "report"), description="Dataset preparation summary"
    )
    create_table_artifact(
        [{k: f.get(k) for k in ("name", "status", "reason", "duration_s", "accepted_s", "segments")} for f in files],
        key=artifact_key("dataset", dataset_id, "files"),
        description="Files with status and reason",
    )
    return report
