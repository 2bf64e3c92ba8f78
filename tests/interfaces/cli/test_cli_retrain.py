"""`provoice pvc create --auto-retrain`, `pvc auto-retrain --on/--off` and `pvc retrains`."""

import json

from typer.testing import CliRunner

from interfaces.cli import app
from provoice.catalog import Catalog
from provoice.catalog.models import utcnow
from provoice.pvc.retrain import record
from provoice.pvc.status import PvcStatus
from provoice.voice_models.registry import BaseModelRegistry
from tests.pvc_states import set_status

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_auto_retrain_options_and_decisions(settings):
    BaseModelRegistry(settings).create_random("tiny-base", tiny=True)
    ds = Catalog(settings).create_dataset("d").id
    r = run("pvc", "create", "--dataset", ds, "--name", "Narrator", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["auto_retrain"] is False
    r = run("pvc", "create", "--dataset", ds, "--name", "Narrator", "--auto-retrain", "--json")
    pvc = json.loads(r.stdout)
    assert pvc["auto_retrain"] is True and pvc["latest_retrain"] is None

    assert json.loads(run("pvc", "auto-retrain", pvc["id"], "--off", "--json").stdout)["auto_retrain"] is False
    r = run("pvc", "auto-retrain", pvc["id"], "--on")
    assert r.exit_code == 0 and "auto-retrain on" in r.stdout
    r = run("pvc", "auto-retrain", pvc["id"])
    assert r.exit_code == 2 and "--on" in r.stderr
    r = run("pvc", "auto-retrain", "pvc_missing", "--on")
    assert r.exit_code == 1 and r.stderr.strip() == "error: no PVC with id 'pvc_missing' (see `provoice pvc list`)"

    assert json.loads(run("pvc", "retrains", pvc["id"], "--json").stdout) == []
    assert "has not been retrained on a new base model yet" in run("pvc", "retrains", pvc["id"]).stdout
    catalog = Catalog(settings)
    done = set_status(catalog, pvc["id"], PvcStatus.COMPLETED, model_id=f"tiny-base/{pvc['id']}", dataset_version="v1")
    record(
        catalog,
        done,
        "tiny-base-2",
        "failed",
        "dataset d has no completed preparation of version v1",
        started_at=utcnow(),
    )
    rows = json.loads(run("pvc", "retrains", pvc["id"], "--json").stdout)
    assert [(r["base_model_id"], r["decision"], r["new_model_id"]) for r in rows] == [("tiny-base-2", "failed", None)]
    text = run("pvc", "retrains", pvc["id"]).stdout
    assert "base tiny-base-2: failed" in text and "no completed preparation of version v1" in text
    assert "last retrain on tiny-base-2: failed" in run("pvc", "show", pvc["id"]).stdout
