"""PVCs in the catalog: creating one (a draft), reading, steps and the end of an attempt.
Starting attempts, leases and reaping are in `provoice.pvc.lifecycle`."""

from __future__ import annotations

from sqlalchemy import select, update

from provoice.catalog import Catalog, Pvc, Voice
from provoice.catalog.models import utcnow
from provoice.errors import InvalidSource, ProVoiceError
from provoice.names import description as clean_description
from provoice.names import display_name
from provoice.outbound import check_destination
from provoice.settings import Settings


class PvcRefused(ProVoiceError):
    """A lifecycle action that the PVC's current status does not allow."""


STEPS = ("preparing data", "training", "creating voices", "evaluating", "charging")


def create_pvc(catalog: Catalog, account_id: str, dataset_id: str, name: str, base_model_id: str, *,
               language: str = "en", description: str = "", webhook_url: str | None = None,
               auto_retrain: bool = False, speaker_name: str | None = None,
               settings: Settings | None = None, max_steps: int | None = None,
               max_minutes: float | None = None) -> Pvc:
    """A draft PVC; with `auto_retrain` it is retrained when a new base model comes out (see
    `provoice.pvc.retrain`). `speaker_name` (default: the name) is who the consent prompt names.
    The language must be one the models speak and the webhook a public http(s) URL (checked again,
    resolved, when it is called). A budget given here (checked by the caller with
    `lifecycle.checked_budget`) is the one its first start uses when that start names none."""
    settings = settings or Settings()
    catalog.get_dataset(dataset_id)
    if language not in settings.languages:
        raise InvalidSource(f"language {language!r} is not supported: the speech recogniser and the base models "
                            f"speak {', '.join(settings.languages)} (PROVOICE_LANGUAGES)")
    if webhook_url:
        check_destination(webhook_url, settings.webhook_allow_hosts, resolve=False)
    with catalog.session() as s:
        pvc = Pvc(account_id=account_id, dataset_id=dataset_id, name=display_name(name, "PVC name"),
                  speaker_name=display_name(speaker_name, "speaker name") if speaker_name else None,
                  base_model_id=base_model_id, language=language, description=clean_description(description),
                  webhook_url=webhook_url or None, status="draft", attempts=0, evaluation={},
                  auto_retrain=auto_retrain, budget_steps=max_steps, budget_minutes=max_minutes)
        s.add(pvc)
    return pvc


def get_pvc(catalog: Catalog, pvc_id: str, account_id: str | None = None) -> Pvc:
    """The PVC, or NotFound, also when it belongs to another account."""
    return catalog.owned(Pvc, pvc_id, account_id, f"no PVC with id {pvc_id!r} (see `provoice pvc list`)")


def list_pvcs(catalog: Catalog, account_id: str) -> list[Pvc]:
    with catalog.session() as s:
        return list(s.scalars(select(Pvc).where(Pvc.account_id == account_id).order_by(Pvc.created_at)))


def set_auto_retrain(catalog: Catalog, pvc_id: str, on: bool, account_id: str | None = None) -> Pvc:
    """Turn retraining on new base models on or off; allowed in any status."""
    get_pvc(catalog, pvc_id, account_id)
    with catalog.session() as s:
        s.execute(update(Pvc).where(Pvc.id == pvc_id).values(auto_retrain=on, updated_at=utcnow()))
    return get_pvc(catalog, pvc_id)


def set_step(catalog: Catalog, pvc_id: str, step: str, **fields) -> None:
    with catalog.session() as s:
        s.execute(update(Pvc).where(Pvc.id == pvc_id).values(step=step, updated_at=utcnow(), **fields))


def finish(catalog: Catalog, pvc_id: str, status: str, *, reason: str | None = None, **fields) -> Pvc:
    """Record the end of an attempt: `completed` (with model id and evaluation) or `failed` (with
    reason; `provoice.pvc.lifecycle.fail_attempt` also releases the credit hold)."""
    with catalog.session() as s:
        s.execute(update(Pvc).where(Pvc.id == pvc_id).values(
            status=status, reason=reason, step=None, lease_expires_at=None, updated_at=utcnow(),
            finished_at=utcnow(), **fields))
    return get_pvc(catalog, pvc_id)


def voices_of(catalog: Catalog, pvc_id: str, model_id: str | None = None) -> list[Voice]:
    with catalog.session() as s:
        q = select(Voice).where(Voice.pvc_id == pvc_id)
        if model_id is not None:
            q = q.where(Voice.model_id == model_id)
        return list(s.scalars(q.order_by(Voice.name)))


def account_voices(catalog: Catalog, account_id: str) -> list[Voice]:
    """"My Voices": every voice of the account, newest PVC first."""
    with catalog.session() as s:
        return list(s.scalars(select(Voice).where(Voice.account_id == account_id)
                              .order_by(Voice.created_at.desc(), Voice.name)))


def get_voice(catalog: Catalog, voice_id: str, account_id: str | None = None) -> Voice:
    return catalog.owned(Voice, voice_id, account_id,
                         f"no voice with id {voice_id!r} (see `provoice voices list`)")
