"""Consent in the catalog: prompts (a new one replaces the open one), attempts taken atomically
against a prompt's limit, the verified consent of a PVC and its invalidation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from provoice.catalog import Catalog, ConsentAttempt, ConsentPrompt, rows_changed
from provoice.catalog.models import utcnow
from provoice.errors import ProVoiceError


class ConsentRefused(ProVoiceError):
    """A consent request the prompt's state does not allow: none open, expired or out of attempts."""


@dataclass(frozen=True)
class Consent:
    """A PVC's verified consent: the prompt that was read and the recording that read it."""

    prompt: ConsentPrompt
    attempt: ConsentAttempt

    @property
    def valid(self) -> bool:
        return self.prompt.status == "verified"


def create_prompt(
    catalog: Catalog, pvc_id: str, account_id: str, prompt: str, phrase: list[str], hours: float, max_attempts: int
) -> ConsentPrompt:
    """A new open prompt; the PVC's open one (if any) is replaced in the same transaction."""
    now = utcnow()
    with catalog.session() as s:
        s.execute(
            update(ConsentPrompt)
            .where(ConsentPrompt.pvc_id == pvc_id, ConsentPrompt.status == "open")
            .values(status="replaced")
        )
        row = ConsentPrompt(
            pvc_id=pvc_id,
            account_id=account_id,
            prompt=prompt,
            phrase=" ".join(phrase),
            status="open",
            max_attempts=max_attempts,
            attempts_used=0,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
        s.add(row)
    return row


def open_prompt(catalog: Catalog, pvc_id: str) -> ConsentPrompt | None:
    with catalog.session() as s:
        return s.scalars(
            select(ConsentPrompt)
            .where(ConsentPrompt.pvc_id == pvc_id, ConsentPrompt.status == "open")
            .order_by(ConsentPrompt.created_at.desc())
        ).first()


def usable_prompt(catalog: Catalog, pvc_id: str) -> ConsentPrompt:
    """The open prompt if it can still take a recording, else ConsentRefused saying what to do."""
    prompt = open_prompt(catalog, pvc_id)
    ask = f"get a new prompt with `provoice pvc consent-prompt {pvc_id}` (POST /fine-tunes/{pvc_id}/consent/prompt)"
    if prompt is None:
        raise ConsentRefused(f"PVC {pvc_id} has no open consent prompt: {ask}")
    if prompt.expires_at <= utcnow():
        raise ConsentRefused(
            f"the consent prompt of PVC {pvc_id} expired at {prompt.expires_at.isoformat(timespec='minutes')}: {ask}"
        )
    if prompt.attempts_used >= prompt.max_attempts:
        raise ConsentRefused(f"all {prompt.max_attempts} attempts of this consent prompt are used: {ask}")
    return prompt


def take_attempt(catalog: Catalog, prompt: ConsentPrompt) -> int:
    """Count one attempt against the prompt, atomically; the attempts left after it."""
    with catalog.session() as s:
        done = rows_changed(
            s,
            update(ConsentPrompt)
            .where(
                ConsentPrompt.id == prompt.id,
                ConsentPrompt.status == "open",
                ConsentPrompt.attempts_used == prompt.attempts_used,
                ConsentPrompt.attempts_used < ConsentPrompt.max_attempts,
            )
            .values(attempts_used=ConsentPrompt.attempts_used + 1),
        )
    if done != 1:
        raise ConsentRefused(
            f"the consent prompt of PVC {prompt.pvc_id} changed while this recording arrived "
            "(another attempt, or a new prompt); submit it again"
        )
    return prompt.max_attempts - prompt.attempts_used - 1


def record_attempt(catalog: Catalog, attempt: ConsentAttempt) -> ConsentAttempt:
    """Keep the attempt; a verified one makes its prompt the PVC's consent, replacing any earlier one."""
    with catalog.session() as s:
        s.add(attempt)
        if attempt.verified:
            s.execute(
                update(ConsentPrompt)
                .where(ConsentPrompt.pvc_id == attempt.pvc_id, ConsentPrompt.status == "verified")
                .values(status="replaced")
            )
            s.execute(
                update(ConsentPrompt)
                .where(ConsentPrompt.id == attempt.prompt_id)
                .values(status="verified", verified_attempt_id=attempt.id, verified_at=attempt.created_at)
            )
    return attempt


def given(prompts: list[ConsentPrompt]) -> ConsentPrompt | None:
    """Of one PVC's prompts, the consent: the latest verified one, valid or invalidated."""
    return max(
        (p for p in prompts if p.verified_attempt_id and p.status in ("verified", "invalidated")),
        key=lambda p: p.verified_at or p.created_at,
        default=None,
    )


def current_consent(catalog: Catalog, pvc_id: str) -> Consent | None:
    """The PVC's latest verified consent, valid or invalidated; None if it never had one."""
    prompt = given(prompts_of(catalog, [pvc_id]))
    if prompt is None:
        return None
    with catalog.session() as s:
        return Consent(prompt, s.get_one(ConsentAttempt, prompt.verified_attempt_id))


def invalidate(catalog: Catalog, prompt_id: str, reason: str) -> None:
    with catalog.session() as s:
        s.execute(
            update(ConsentPrompt)
            .where(ConsentPrompt.id == prompt_id, ConsentPrompt.status == "verified")
            .values(status="invalidated", invalid_reason=reason, invalidated_at=utcnow())
        )


def attempts_of(catalog: Catalog, pvc_ids: list[str]) -> list[ConsentAttempt]:
    with catalog.session() as s:
        return list(
            s.scalars(
                select(ConsentAttempt).where(ConsentAttempt.pvc_id.in_(pvc_ids)).order_by(ConsentAttempt.created_at)
            )
        )


def prompts_of(catalog: Catalog, pvc_ids: list[str]) -> list[ConsentPrompt]:
    with catalog.session() as s:
        return list(
            s.scalars(select(ConsentPrompt).where(ConsentPrompt.pvc_id.in_(pvc_ids)).order_by(ConsentPrompt.created_at))
        )
