"""prefect.yaml and the Python deployments (what `provoice serve` serves) say the same thing, and
every trigger matches what the emitters actually send."""

from pathlib import Path

import pytest
import yaml

from deployments.definitions import GPU_POOL, RETRAIN_CRON, SPECS, load_flow, runner_deployments, spec
from provoice.events import FILES_UPLOADED, STAGE_BUCKET, STAGE_INGESTED, UPLOAD_STAGE, resource

ROOT = Path(__file__).resolve().parents[2]
NAMES = {
    "pro-voice-clone/pro-voice-clone",
    "prepare-dataset/prepare-dataset",
    "retrain-on-new-base-model/retrain-on-new-base-model",
    "ingest-files/ingest-upload",
    "fine-tune/gpu",
    "reap-pvcs/reap-pvcs",
}


@pytest.fixture(scope="module")
def prefect_yaml() -> dict:
    return yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())


def test_the_deployments_the_issue_asks_for_exist():
    assert {s.full_name for s in SPECS} == NAMES


def test_prefect_yaml_matches_the_python_definitions(prefect_yaml):
    by_name = {d["name"]: d for d in prefect_yaml["deployments"]}
    assert set(by_name) == {s.name for s in SPECS}
    for s in SPECS:
        d = by_name[s.name]
        assert d["entrypoint"] == s.entrypoint
        assert d["work_pool"]["name"] == s.work_pool
        assert " ".join(d["description"].split()) == s.description
        assert [t for t in d.get("triggers", [])] == [t.to_dict() for t in s.triggers]
        assert [x.get("cron") for x in d.get("schedules", []) if "cron" in x] == ([s.cron] if s.cron else [])
        assert [x["interval"] for x in d.get("schedules", []) if "interval" in x] == (
            [s.interval_s] if s.interval_s else []
        )
    assert by_name["gpu"]["work_pool"]["job_variables"]["gpu_count"] == 1
    assert prefect_yaml["pull"][0]["prefect.deployments.steps.set_working_directory"]["directory"] == "/app"


def test_entrypoints_are_the_flows_of_those_names():
    for s in SPECS:
        flow = load_flow(s.entrypoint)
        assert flow.name == s.flow_name
        assert (ROOT / s.entrypoint.split(":")[0]).is_file()


def test_pro_voice_clone_takes_the_form_fields():
    params = load_flow(spec("pro-voice-clone/pro-voice-clone").entrypoint).parameters.properties
    assert {"dataset_id", "name", "base_model_id", "max_minutes", "max_steps"} <= set(params)
    assert "dataset to clone the voice from" in params["dataset_id"]["description"]


def _matches(match: dict, res: dict) -> bool:
    from fnmatch import fnmatchcase

    return all(fnmatchcase(res.get(k, ""), v) for k, v in match.items())


def test_upload_triggers_tell_bucket_uploads_from_ingested_files():
    ingest = spec("ingest-files/ingest-upload").triggers[0]
    prepare = spec("prepare-dataset/prepare-dataset").triggers[0]
    assert ingest.expect == prepare.expect == FILES_UPLOADED
    bucket = resource("dataset", "ds_1", **{UPLOAD_STAGE: STAGE_BUCKET})
    ingested = resource("dataset", "ds_1", **{UPLOAD_STAGE: STAGE_INGESTED})
    assert _matches(ingest.match, bucket) and not _matches(ingest.match, ingested)
    assert _matches(prepare.match, ingested) and not _matches(prepare.match, bucket)
    assert prepare.parameters["dataset_id"] == "{{ event.resource['provoice.dataset-id'] }}"
    assert "provoice.dataset-id" in bucket


def test_runner_deployments_carry_schedule_and_triggers():
    deps = {d.name: d for d in runner_deployments()}
    assert set(deps) == {s.name for s in SPECS}
    retrain = deps["retrain-on-new-base-model"]
    assert [s.schedule.cron for s in retrain.schedules] == [RETRAIN_CRON]
    assert [t.expect for t in retrain.triggers] == [{"provoice.base-model.registered"}]
    assert deps["ingest-upload"].triggers[0].parameters["sources"] == "{{ event.payload.objects }}"
    assert all(d.entrypoint.startswith("flows.") for d in deps.values())
    assert spec("fine-tune/gpu").work_pool == GPU_POOL
