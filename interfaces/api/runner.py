"""Where the API's long work runs: never in the web process when Prefect is there to run it.

- Served (a Prefect API is configured: `provoice serve`, compose, Kubernetes): the PVC is claimed
  (status `queued`, its credit hold placed, its budget fixed) and the `pro-voice-clone`
  deployment is started with `run_deployment(..., timeout=0)`; its flow run id is recorded on the
  PVC and a worker picks it up. Preparing a dataset starts `prepare-dataset` the same way.
- Embedded (no Prefect API): the same claim, then the flow runs on a daemon thread of this process,
  as on a laptop. A server restart then stops it; the lease lapses and the reaper fails the PVC.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from provoice.catalog import Catalog, Pvc
from provoice.errors import ProVoiceError, TransientError
from provoice.pvc.budget import Budget
from provoice.pvc.lifecycle import record_flow_run
from provoice.pvc.transitions import claim, fail_attempt
from provoice.settings import Settings

log = logging.getLogger(__name__)

PVC_DEPLOYMENT = "pro-voice-clone/pro-voice-clone"
PREPARE_DEPLOYMENT = "prepare-dataset/prepare-dataset"


@dataclass
class Runner:
    """Starts PVC attempts and preparations; `start_deployment(name, parameters) -> flow run id`.
    `settings` (the app's) say where an embedded preparation finds the home's Prefect server."""

    start_deployment: Callable[[str, dict], str] | None
    settings: Settings | None = None

    @classmethod
    def for_environment(cls, settings: Settings) -> Runner:
        """Served when the environment names a Prefect API (as `provoice serve` does for its API), so
        its workers run the deployments; embedded otherwise."""
        return cls(_run_deployment if os.environ.get("PREFECT_API_URL") else None, settings)

    @property
    def served(self) -> bool:
        return self.start_deployment is not None

    def start_pvc(self, catalog: Catalog, settings: Settings, pvc: Pvc, *, retry: bool, budget: Budget) -> Pvc:
        pvc = claim(catalog, settings, pvc.id, retry=retry, budget=budget, lease=not self.served)  # queued
        if self.start_deployment is None:
            threading.Thread(target=_run_pvc, name=f"pvc-{pvc.id}", daemon=True, args=(settings, pvc.id)).start()
            return pvc
        try:
            run_id = self.start_deployment(PVC_DEPLOYMENT, {"pvc_id": pvc.id, "retry": retry})
        except Exception as exc:
            reason = f"could not queue the training on Prefect ({type(exc).__name__}: {exc}); re-attempt training"
            fail_attempt(catalog, pvc.id, reason, "infrastructure")
            raise TransientError(reason) from exc
        record_flow_run(catalog, pvc.id, run_id)
        return catalog.owned(Pvc, pvc.id, None, "")

    def start_prepare(self, dataset_id: str) -> str | None:
        """The flow run id (served), or None when it runs on a thread here."""
        if self.start_deployment is None:
            threading.Thread(
                target=_run_prepare, name=f"prepare-{dataset_id}", daemon=True, args=(self.settings, dataset_id)
            ).start()
            return None
        try:
            return self.start_deployment(PREPARE_DEPLOYMENT, {"dataset_id": dataset_id})
        except Exception as exc:
            raise TransientError(f"could not start preparing on Prefect ({type(exc).__name__}: {exc})") from exc


def _run_deployment(name: str, parameters: dict) -> str:
    from prefect.deployments import run_deployment

    return str(run_deployment(name, parameters=parameters, timeout=0).id)


def _run_pvc(settings: Settings, pvc_id: str) -> None:
    from deployments.local_server import prefect_api
    from flows.pvc import pro_voice_clone

    try:
        with prefect_api(settings):
            pro_voice_clone(pvc_id=pvc_id)
    except ProVoiceError as exc:
        log.warning("PVC %s did not complete: %s", pvc_id, exc)
    except Exception:
        log.exception("PVC %s failed unexpectedly", pvc_id)


def _run_prepare(settings: Settings | None, dataset_id: str) -> None:
    from deployments.local_server import prefect_api
    from flows.prepare import prepare_dataset

    try:
        with prefect_api(settings):
            prepare_dataset(dataset_id)
    except Exception:
        log.exception("preparing dataset %s failed", dataset_id)
