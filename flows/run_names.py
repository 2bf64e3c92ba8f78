"""Flow run names from a run's parameters ("pvc Demo narrator · attempt 1", "prepare narrator"),
so the Prefect UI says what each run is instead of Prefect's random words.

Prefect evaluates these when a run starts. A name is only a label: if the catalog cannot be read,
it falls back to the ids, and it never fails a run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _parameters() -> dict:
    from prefect.runtime import flow_run

    return dict(flow_run.parameters or {})


def _named(build: Callable[[dict], str], fallback: Callable[[dict], str]) -> Callable[[], str]:
    def name() -> str:
        params = _parameters()
        try:
            return build(params)
        except Exception as exc:  # a label must never fail the run it names
            log.debug("run name from the catalog failed: %s", exc)
            return fallback(params)

    return name


def _catalog():
    from provoice.catalog import Catalog
    from provoice.settings import Settings

    return Catalog(Settings())


def _dataset_name(dataset_id: str) -> str:
    return _catalog().get_dataset(dataset_id).name


def _pvc(params: dict) -> str:
    if params.get("pvc_id"):
        from provoice.pvc.service import get_pvc

        pvc = get_pvc(_catalog(), params["pvc_id"])
        return f"pvc {pvc.name} · attempt {pvc.attempts + 1}"
    return f"pvc {params.get('name') or _dataset_name(params['dataset_id'])} · attempt 1"


pvc_run_name = _named(_pvc, lambda p: f"pvc {p.get('pvc_id') or p.get('name') or p.get('dataset_id')}")


def _about_dataset(label: str) -> Callable[[], str]:
    """ "<label> <dataset name>", or the dataset id when the name cannot be read."""
    return _named(lambda p: f"{label} {_dataset_name(p['dataset_id'])}", lambda p: f"{label} {p.get('dataset_id')}")


prepare_run_name = _about_dataset("prepare")
prepare_files_run_name = _about_dataset("prepare files of")
ingest_run_name = _named(
    lambda p: f"upload into {_dataset_name(p['dataset_id'])} · {len(p.get('sources') or [])} source(s)",
    lambda p: f"upload into {p.get('dataset_id')}",
)
fine_tune_run_name = _named(
    lambda p: f"fine-tune {p.get('run_id') or 'on ' + _dataset_name(p['dataset_id'])}",
    lambda p: f"fine-tune {p.get('run_id') or p.get('dataset_id')}",
)
retrain_run_name = _named(
    lambda p: (
        "retrain "
        + (f"pvc {p['pvc_id']}" if p.get("pvc_id") else "due PVCs")
        + f" on {p.get('base_model_id') or 'the latest base'}"
    ),
    lambda p: "retrain",
)
