"""PVCs in the catalog: creating one (a draft), reading, deleting, and the step an attempt is at.
Changes of status are `provoice.pvc.transitions`; leases and reaping are in `provoice.pvc.lifecycle`."""

from __future__ import annotations

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from provoice.catalog import (
    Catalog,
    ConsentAttempt,
    ConsentPrompt,
    Dataset,
    DatasetFile,
    PreparationRun,
    PreparationStatus,
    PreparedSegment,
    Pvc,
    Voice,
)
from provoice.catalog.models import utcnow
from provoice.dataset.runs import fail_lapsed_runs
from provoice.errors import InvalidSource, ProVoiceError
from provoice.names import description as clean_description
from provoice.names import display_name
from provoice.outbound import check_destination
from provoice.pvc.status import PvcStatus, PvcStep
from provoice.settings import Settings


class PvcRefused(ProVoiceError):
    """A lifecycle action that the PVC's current status does not allow."""


class DatasetInUse(PvcRefused):
    """A dataset that a PVC was made from (or that is being prepared) cannot be deleted."""


def create_pvc(
    catalog: Catalog,
    account_id: str,
    dataset_id: str,
    name: str,
    base_model_id: str,
    *,
    language: str = "en",
    description: str = "",
    webhook_url: str | None = None,
    auto_retrain: bool = False,
    speaker_name: str | None = None,
    settings: Settings,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    train_on_consent: bool = False,
) -> Pvc:
    """A draft PVC; with `auto_retrain` it is retrained when a new base model comes out (see
    `provoice.pvc.retrain`). `speaker_name` (default: the name) is who the consent prompt names.
    With `train_on_consent` its first training starts when its speaker's consent is verified (for
    APIs without a train call); it never starts before.
    The language must be one the models speak and the webhook a public http(s) URL (checked again,
    resolved, when it is called). A budget given here (checked by the caller with
    `budget.checked_budget`) is the one its first start uses when that start names none."""
    catalog.get_dataset(dataset_id)
    if language not in settings.languages:
        raise InvalidSource(
            f"language {language!r} is not supported: the speech recogniser and the base models "
            f"speak {', '.join(settings.languages)} (PROVOICE_LANGUAGES)"
        )
    if webhook_url:
        check_destination(webhook_url, settings.webhook_allow_hosts, resolve=False)
    with catalog.session() as s:
        pvc = Pvc(
            account_id=account_id,
            dataset_id=dataset_id,
            name=display_name(name, "PVC name"),
            speaker_name=display_name(speaker_name, "speaker name") if speaker_name else None,
            base_model_id=base_model_id,
            language=language,
            description=clean_description(description),
            webhook_url=webhook_url or None,
            status=PvcStatus.DRAFT,
            attempts=0,
            evaluation={},
            auto_retrain=auto_retrain,
            budget_steps=max_steps,
            budget_minutes=max_minutes,
            train_on_consent=train_on_consent,
        )
        s.add(pvc)
    return pvc


def get_pvc(catalog: Catalog, pvc_id: str, account_id: str | None = None) -> Pvc:
    """The PVC, or NotFound, also when it belongs to another account."""
    return catalog.owned(Pvc, pvc_id, account_id, f"no PVC with id {pvc_id!r} (see `provoice pvc list`)")


def list_pvcs(catalog: Catalog, account_id: str) -> list[Pvc]:
    with catalog.session() as s:
        return list(s.scalars(select(Pvc).where(Pvc.account_id == account_id).order_by(Pvc.created_at)))


def delete_pvc(catalog: Catalog, pvc_id: str, account_id: str | None = None) -> Pvc:
    """Delete a PVC that never trained and has no consent recording (its open prompts go with it).
    Anything more is kept: a trained PVC's model and voices, and every consent recording, which is
    the audit trail of who allowed the voice to be cloned."""
    pvc = get_pvc(catalog, pvc_id, account_id)
    try:
        with catalog.account_transaction(pvc.account_id) as s:
            row = s.get_one(Pvc, pvc_id)
            if row.status != PvcStatus.DRAFT or row.attempts:
                raise PvcRefused(
                    f"PVC {pvc_id} cannot be deleted: it was started (status {row.status}) and its "
                    "model, voices and charges are kept"
                )
            if s.scalar(select(exists().where(ConsentAttempt.pvc_id == pvc_id))):
                raise PvcRefused(
                    f"PVC {pvc_id} cannot be deleted: its speaker's consent recordings are kept as "
                    "the record of who allowed the voice to be cloned"
                )
            s.execute(delete(ConsentPrompt).where(ConsentPrompt.pvc_id == pvc_id))
            s.delete(row)
    except IntegrityError as exc:  # a consent prompt or recording arrived at the same moment (PostgreSQL)
        raise PvcRefused(f"PVC {pvc_id} changed while it was being deleted; look at it again") from exc
    return pvc


def delete_dataset(catalog: Catalog, dataset_id: str, account_id: str | None = None) -> Dataset:
    """Delete a dataset with its files' records and preparations, unless a PVC was made from it
    (its training data and consent checks need the files) or a preparation is running. The stored
    audio stays: it is content-addressed and may belong to other datasets too."""
    dataset = catalog.owned(Dataset, dataset_id, account_id, f"no dataset with id {dataset_id!r}")
    fail_lapsed_runs(catalog, dataset_id)
    try:
        with catalog.account_transaction(dataset.account_id) as s:
            _refuse_if_used(s, dataset_id)
            for table in (PreparedSegment, DatasetFile, PreparationRun):
                s.execute(delete(table).where(table.dataset_id == dataset_id))
            s.execute(delete(Dataset).where(Dataset.id == dataset_id))
    except IntegrityError as exc:  # a PVC made from it at the same moment (PostgreSQL)
        raise DatasetInUse(f"dataset {dataset_id} cannot be deleted: a PVC was just made from it") from exc
    return dataset


def _refuse_if_used(s, dataset_id: str) -> None:
    pvcs = list(s.scalars(select(Pvc.id).where(Pvc.dataset_id == dataset_id).order_by(Pvc.created_at)))
    if pvcs:
        made = f"PVC {pvcs[0]} was" if len(pvcs) == 1 else f"PVCs {', '.join(pvcs)} were"
        raise DatasetInUse(
            f"dataset {dataset_id} cannot be deleted: {made} made from it and needs its files "
            "(training data and consent checks)"
        )
    running = PreparationRun.status == PreparationStatus.RUNNING
    if s.scalar(select(exists().where(PreparationRun.dataset_id == dataset_id, running))):
        raise DatasetInUse(
            f"dataset {dataset_id} cannot be deleted while it is being prepared; try again when the "
            "preparation has finished"
        )


def set_auto_retrain(catalog: Catalog, pvc_id: str, on: bool, account_id: str | None = None) -> Pvc:
    """Turn retraining on new base models on or off; allowed in any status."""
    get_pvc(catalog, pvc_id, account_id)
    with catalog.session() as s:
        s.execute(update(Pvc).where(Pvc.id == pvc_id).values(auto_retrain=on, updated_at=utcnow()))
    return get_pvc(catalog, pvc_id)


def set_step(catalog: Catalog, pvc_id: str, step: PvcStep, **fields) -> None:
    """Where a training attempt is now, with what it has produced so far (`fields`)."""
    with catalog.session() as s:
        s.execute(update(Pvc).where(Pvc.id == pvc_id).values(step=step, updated_at=utcnow(), **fields))


def voices_of(catalog: Catalog, pvc_id: str, model_id: str | None = None) -> list[Voice]:
    with catalog.session() as s:
        q = select(Voice).where(Voice.pvc_id == pvc_id)
        if model_id is not None:
            q = q.where(Voice.model_id == model_id)
        return list(s.scalars(q.order_by(Voice.name)))


def model_voices(catalog: Catalog, model_id: str, account_id: str | None = None) -> list[Voice]:
    """The voices linked to one model (of `account_id` when given), by name: its speakers."""
    with catalog.session() as s:
        q = select(Voice).where(Voice.model_id == model_id)
        if account_id is not None:
            q = q.where(Voice.account_id == account_id)
        return list(s.scalars(q.order_by(Voice.name, Voice.id)))


def account_voices(catalog: Catalog, account_id: str) -> list[Voice]:
    """ "My Voices": every voice of the account, newest PVC first."""
    with catalog.session() as s:
        return list(
            s.scalars(select(Voice).where(Voice.account_id == account_id).order_by(Voice.created_at.desc(), Voice.name))
        )


def get_voice(catalog: Catalog, voice_id: str, account_id: str | None = None) -> Voice:
    return catalog.owned(Voice, voice_id, account_id, f"no voice with id {voice_id!r} (see `provoice voices list`)")
