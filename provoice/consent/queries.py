"""What users see of consent, read from the catalog: each PVC's consent state in two queries, and
a prompt or a checked recording as a view."""

from __future__ import annotations

from provoice.catalog import Catalog, ConsentAttempt, ConsentPrompt
from provoice.consent.records import attempts_of, given, prompts_of
from provoice.views import ConsentPromptView, ConsentResultView, ConsentView


def consent_result_view(attempt: ConsentAttempt, attempts_left: int) -> ConsentResultView:
    """A checked recording, with how many more the open prompt takes."""
    return ConsentResultView(
        verified=attempt.verified,
        reason=attempt.reason,
        transcript=attempt.transcript,
        prompt_wer=attempt.prompt_wer,
        speaker_similarity=attempt.speaker_similarity,
        attempts_left=attempts_left,
    )


def consent_prompt_view(prompt: ConsentPrompt) -> ConsentPromptView:
    """A prompt to read aloud, with the recordings it still takes."""
    return ConsentPromptView(
        pvc_id=prompt.pvc_id,
        prompt=prompt.prompt,
        expires_at=prompt.expires_at,
        attempts_left=prompt.max_attempts - prompt.attempts_used,
    )


def consent_views(catalog: Catalog, pvc_ids: list[str]) -> dict[str, ConsentView]:
    """The consent state of each PVC, in two queries."""
    prompts: dict[str, list[ConsentPrompt]] = {i: [] for i in pvc_ids}
    attempts: dict[str, list[ConsentAttempt]] = {i: [] for i in pvc_ids}
    for p in prompts_of(catalog, pvc_ids):
        prompts[p.pvc_id].append(p)
    for a in attempts_of(catalog, pvc_ids):
        attempts[a.pvc_id].append(a)
    out = {}
    for pvc_id in pvc_ids:
        by_id = {a.id: a for a in attempts[pvc_id]}
        consent = given(prompts[pvc_id])
        open_ = next((p for p in reversed(prompts[pvc_id]) if p.status == "open"), None)
        record = by_id.get(consent.verified_attempt_id) if consent and consent.verified_attempt_id else None
        last = attempts[pvc_id][-1] if attempts[pvc_id] else None
        status = consent.status if consent else ("prompted" if open_ else "none")
        reason = (
            consent.invalid_reason
            if consent and consent.status == "invalidated"
            else last.reason
            if last and not last.verified
            else None
        )
        out[pvc_id] = ConsentView(
            status=status,
            reason=reason,
            recordings=len(attempts[pvc_id]),
            prompt=open_.prompt if open_ else None,
            expires_at=open_.expires_at if open_ else None,
            attempts_left=open_.max_attempts - open_.attempts_used if open_ else None,
            verified_at=consent.verified_at if consent else None,
            verified_prompt=consent.prompt if consent else None,
            account_id=record.account_id if record else None,
            transcript=record.transcript if record else None,
            prompt_wer=record.prompt_wer if record else None,
            speaker_similarity=record.speaker_similarity if record else None,
            recording_name=record.original_name if record else None,
            recording_sha256=record.sha256 if record else None,
            dataset_version=record.dataset_version if record else None,
        )
    return out
