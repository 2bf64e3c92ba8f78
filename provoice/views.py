"""What users see of catalog rows: one set of pydantic models for the HTTP API's responses and the
CLI's `--json`, so the two shapes are one, and builders that read a whole listing in a bounded
number of queries whatever its length.

Stored objects are named by id or by the API route that serves them (`report_url`,
`preview_url`, ...), never by storage URI: a URI tells a caller where the server keeps its files
and opens nothing for them. The URIs stay on the models for the code that needs them, excluded
from every dump."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field, field_validator
from sqlalchemy import func, select

from provoice.catalog import Catalog, Dataset, DatasetFile, PreparationRun, Pvc, PvcRetrain, Voice
from provoice.catalog.models import MILLI_CREDITS, CreditEntry


def stored(model: BaseModel) -> dict[str, Any]:
    """The model as JSON for ProVoice's own storage: the fields hidden from users included."""
    hidden = {name: getattr(model, name) for name, f in type(model).model_fields.items() if f.exclude}
    return {**model.model_dump(mode="json"), **hidden}


class View(BaseModel):
    """Read straight from ORM rows (`from_attributes`)."""

    model_config = ConfigDict(from_attributes=True)


class FileView(View):
    id: str
    name: str = Field(validation_alias=AliasChoices("original_name", "name"))
    status: str = Field(description="pending, accepted or rejected")
    reason: str | None = Field(description="why the file was rejected")
    format: str | None = Field(description="the format detected from the content")
    size: int
    sha256: str
    duration_s: float | None
    accepted_s: float = Field(description="seconds of accepted speech")
    segments: int
    warnings: list[str] = Field(default_factory=list)


class PreparationView(BaseModel):
    version: str
    accepted_seconds: float | None
    enough: bool | None
    message: str = ""
    report_url: str = Field(description="the quality report (JSON) of this version")


class PreparingView(BaseModel):
    """A preparation in progress: steps done of all its per-file steps."""

    version: str
    progress_done: int
    progress_total: int
    started_at: datetime


class DatasetRow(View):
    """One line of a dataset listing."""

    id: str
    name: str
    created_at: datetime
    files: int = Field(description="number of files")


class DatasetView(View):
    """A dataset with its files and its latest completed preparation (None before the first)."""

    id: str
    name: str
    created_at: datetime
    files: list[FileView]
    latest_preparation: PreparationView | None
    preparing: PreparingView | None = None


class PrepareStarted(BaseModel):
    """Preparation was started: on a worker (its Prefect flow run) or in this process."""

    dataset_id: str
    flow_run_id: str | None
    status: str = Field(description="queued (a worker will run it) or running")


class DatasetFiles(BaseModel):
    """Files just added to a dataset, each with its status."""

    id: str = Field(description="the dataset id")
    name: str | None = None
    files: list[FileView]


class RemovedFile(BaseModel):
    id: str = Field(description="the dataset id")
    removed: str = Field(description="the removed file's id")


class PreparedFile(BaseModel):
    """A file as one preparation saw it."""

    id: str
    name: str
    status: str
    reason: str | None
    duration_s: float | None
    accepted_s: float
    segments: int


class PrepareSummary(BaseModel):
    """The result of preparing a dataset version."""

    dataset_id: str
    version: str
    accepted_seconds: float
    min_seconds: float
    enough: bool = Field(description="whether the accepted speech reaches the minimum for training")
    manifest_uri: str = Field(exclude=True)
    report_uri: str = Field(exclude=True)
    message: str
    files: list[PreparedFile]

    @computed_field
    @property
    def report_url(self) -> str:
        return report_url(self.dataset_id, self.version)


def report_url(dataset_id: str, version: str) -> str:
    return f"/datasets/{dataset_id}/versions/{version}/report"


class PvcVoiceView(View):
    id: str
    name: str
    source_file_id: str
    preview_uri: str | None = Field(exclude=True)

    @computed_field
    @property
    def preview_url(self) -> str | None:
        return f"/voices/{self.id}/preview" if self.preview_uri else None


class RetrainView(View):
    """One retrain decision: the base model it was about, both models' scores and why."""

    id: str
    pvc_id: str
    base_model_id: str
    decision: str = Field(description="promoted, kept or failed")
    reason: str
    old_base_model_id: str
    old_model_id: str
    new_model_id: str | None
    old_evaluation: dict[str, Any] | None
    new_evaluation: dict[str, Any] | None
    started_at: datetime
    decided_at: datetime

    @classmethod
    def of(cls, row: PvcRetrain) -> RetrainView:
        view = cls.model_validate(row)
        return view.model_copy(update={"old_evaluation": row.old_evaluation or None,
                                       "new_evaluation": row.new_evaluation or None})


class ConsentPromptView(BaseModel):
    """What the speaker reads aloud, until when, and how many recordings it still takes."""

    pvc_id: str
    prompt: str
    expires_at: datetime
    attempts_left: int


class ConsentResultView(BaseModel):
    """One recording checked against the prompt: verified, or the first reason it was refused, with
    what was heard and measured (None where the recording did not get that far)."""

    verified: bool
    reason: str | None
    transcript: str | None
    prompt_wer: float | None = Field(description="word error rate of the transcript against the prompt")
    speaker_similarity: float | None = Field(description="cosine similarity to the dataset's main voice")
    attempts_left: int


def consent_result_view(attempt: Any, attempts_left: int) -> ConsentResultView:
    return ConsentResultView(verified=attempt.verified, reason=attempt.reason, transcript=attempt.transcript,
                             prompt_wer=attempt.prompt_wer, speaker_similarity=attempt.speaker_similarity,
                             attempts_left=attempts_left)


def consent_prompt_view(prompt: Any) -> ConsentPromptView:
    from provoice.consent import aware

    return ConsentPromptView(pvc_id=prompt.pvc_id, prompt=prompt.prompt, expires_at=aware(prompt.expires_at),
                             attempts_left=prompt.max_attempts - prompt.attempts_used)


class ConsentView(BaseModel):
    """A PVC's consent: `none` (never asked), `prompted` (a prompt is open), `verified` or
    `invalidated` (the dataset's voice moved away from the consent's). The verified recording's
    record is the audit trail: what was read, heard and measured, when, by which account."""

    status: str = Field(description="none, prompted, verified or invalidated")
    reason: str | None = Field(description="why it was invalidated, or why the last recording was refused")
    prompt: str | None = Field(description="the open prompt, to read aloud")
    expires_at: datetime | None
    attempts_left: int | None
    recordings: int = Field(description="recordings submitted for this PVC, verified or not")
    verified_at: datetime | None
    account_id: str | None = Field(description="the account whose key submitted the verified recording")
    verified_prompt: str | None
    transcript: str | None
    prompt_wer: float | None
    speaker_similarity: float | None
    recording_name: str | None
    recording_sha256: str | None
    dataset_version: str | None = Field(description="the dataset version whose voice it was compared with")


class PvcView(BaseModel):
    """A pro voice clone with its voices, charge, consent and latest retrain."""

    id: str
    name: str
    status: str = Field(description="draft, queued, training, completed or failed")
    step: str | None
    reason: str | None
    attempts: int
    dataset_id: str
    dataset_version: str | None
    base_model_id: str
    model_id: str | None
    voices: list[PvcVoiceView]
    evaluation: dict[str, Any] | None
    voices_note: str | None
    charged_credits: float
    auto_retrain: bool
    latest_retrain: RetrainView | None
    budget: dict[str, float | int | None] = Field(description="max_steps / max_minutes of all attempts together")
    flow_run_id: str | None = Field(description="the Prefect flow run that owns the current or last attempt")
    failure_kind: str | None = Field(description="worker-lost or infrastructure (re-attempt when back), or None")
    loss_curve_url: str | None
    speaker_name: str = Field(description="whose voice it is, as the consent prompt names them")
    consent: ConsentView
    train_on_consent: bool = Field(False, description="its first training starts by itself once the speaker's "
                                                      "consent is verified (a Cartesia fine-tune)")


class PvcRun(BaseModel):
    """How one attempt of the parent flow ended."""

    id: str
    status: str
    model_id: str | None
    voices: list[PvcVoiceView]


class VoiceView(View):
    id: str
    name: str
    model_id: str
    pvc_id: str
    source_file_id: str
    preview_uri: str | None = Field(exclude=True)

    @computed_field
    @property
    def preview_url(self) -> str | None:
        return f"/voices/{self.id}/preview" if self.preview_uri else None


class PiperExportView(View):
    """A voice (or a model's voices) written as a standard Piper voice: its files and how closely each
    speaker reproduced ProVoice's own synthesis."""

    name: str
    model_id: str
    pvc_id: str
    onnx_path: str
    config_path: str
    card_path: str
    num_speakers: int
    speaker_id_map: dict[str, int]
    correlations: list[float]

    @field_validator("onnx_path", "config_path", "card_path", mode="before")
    @classmethod
    def _path(cls, value: Any) -> str:
        return str(value)


class BalanceView(BaseModel):
    """`balance` is the ledger's total; `held` is set aside for PVCs in progress; `available` is what
    new work can use."""

    balance: float
    held: float
    available: float

    @classmethod
    def of(cls, b: Any) -> BalanceView:
        return cls(balance=float(b.total), held=float(b.held), available=float(b.available))


class CreditEntryView(BaseModel):
    id: str
    kind: str
    credits: float
    reference: str | None
    created_at: datetime

    @classmethod
    def of(cls, entry: CreditEntry) -> CreditEntryView:
        return cls(id=entry.id, kind=entry.kind, credits=float(entry.credits), reference=entry.reference,
                   created_at=entry.created_at)


def voices_note(pvc: Pvc, count: int) -> str | None:
    """Why a completed PVC has fewer than four voices: one voice per distinct source file."""
    from provoice.pvc.voices import VOICES_PER_PVC

    if pvc.status != "completed" or count >= VOICES_PER_PVC:
        return None
    return (f"{count} voice(s) instead of {VOICES_PER_PVC}: each voice comes from a different source file "
            f"and the dataset has only {count} usable file(s); add recordings for more voices")


def pvc_views(catalog: Catalog, pvcs: Sequence[Pvc]) -> list[PvcView]:
    """Views of many PVCs in five queries (voices, charges, retrain decisions, consent prompts and
    recordings), however many."""
    if not pvcs:
        return []
    ids = [p.id for p in pvcs]
    voices: dict[str, list[Voice]] = {i: [] for i in ids}
    charged: dict[str, Decimal] = {}
    latest: dict[str, PvcRetrain] = {}
    with catalog.session() as s:
        for v in s.scalars(select(Voice).where(Voice.pvc_id.in_(ids)).order_by(Voice.name)):
            voices[v.pvc_id].append(v)
        for reference, account, milli in s.execute(
                select(CreditEntry.reference, CreditEntry.account_id, func.sum(CreditEntry.amount))
                .where(CreditEntry.reference.in_(ids), CreditEntry.amount < 0)
                .group_by(CreditEntry.reference, CreditEntry.account_id)):
            charged[(reference, account)] = -Decimal(int(milli)) / MILLI_CREDITS
        for r in s.scalars(select(PvcRetrain).where(PvcRetrain.pvc_id.in_(ids))
                           .order_by(PvcRetrain.decided_at, PvcRetrain.id)):
            latest[r.pvc_id] = r
    consents = consent_views(catalog, ids)
    out = []
    for pvc in pvcs:
        own = [v for v in voices[pvc.id] if pvc.model_id and v.model_id == pvc.model_id]
        retrain = latest.get(pvc.id)
        out.append(PvcView(
            id=pvc.id, name=pvc.name, status=pvc.status, step=pvc.step, reason=pvc.reason, attempts=pvc.attempts,
            dataset_id=pvc.dataset_id, dataset_version=pvc.dataset_version, base_model_id=pvc.base_model_id,
            model_id=pvc.model_id, voices=[PvcVoiceView.model_validate(v) for v in own],
            evaluation=pvc.evaluation or None, voices_note=voices_note(pvc, len(own)),
            charged_credits=float(charged.get((pvc.id, pvc.account_id), Decimal(0))),
            auto_retrain=bool(pvc.auto_retrain), latest_retrain=retrain and RetrainView.of(retrain),
            budget={"max_steps": pvc.budget_steps, "max_minutes": pvc.budget_minutes}, flow_run_id=pvc.flow_run_id,
            failure_kind=pvc.failure_kind,
            loss_curve_url=f"/fine-tunes/{pvc.id}/loss-curve" if pvc.model_id else None,
            speaker_name=pvc.speaker_name or pvc.name, consent=consents[pvc.id],
            train_on_consent=bool(pvc.train_on_consent)))
    return out


def consent_views(catalog: Catalog, pvc_ids: list[str]) -> dict[str, ConsentView]:
    """The consent state of each PVC, in two queries."""
    from provoice.consent import attempts_of, aware, given, prompts_of

    prompts: dict[str, list] = {i: [] for i in pvc_ids}
    attempts: dict[str, list] = {i: [] for i in pvc_ids}
    for p in prompts_of(catalog, pvc_ids):
        prompts[p.pvc_id].append(p)
    for a in attempts_of(catalog, pvc_ids):
        attempts[a.pvc_id].append(a)
    out = {}
    for pvc_id in pvc_ids:
        by_id = {a.id: a for a in attempts[pvc_id]}
        consent = given(prompts[pvc_id])
        open_ = next((p for p in reversed(prompts[pvc_id]) if p.status == "open"), None)
        record = by_id.get(consent.verified_attempt_id) if consent else None
        last = attempts[pvc_id][-1] if attempts[pvc_id] else None
        status = consent.status if consent else ("prompted" if open_ else "none")
        reason = (consent.invalid_reason if consent and consent.status == "invalidated"
                  else last.reason if last and not last.verified else None)
        out[pvc_id] = ConsentView(
            status=status, reason=reason, prompt=open_ and open_.prompt, expires_at=open_ and aware(open_.expires_at),
            attempts_left=open_ and open_.max_attempts - open_.attempts_used, recordings=len(attempts[pvc_id]),
            verified_at=consent and aware(consent.verified_at), account_id=record and record.account_id,
            verified_prompt=consent and consent.prompt, transcript=record and record.transcript,
            prompt_wer=record and record.prompt_wer, speaker_similarity=record and record.speaker_similarity,
            recording_name=record and record.original_name, recording_sha256=record and record.sha256,
            dataset_version=record and record.dataset_version)
    return out


def pvc_view(catalog: Catalog, pvc: Pvc) -> PvcView:
    return pvc_views(catalog, [pvc])[0]


def dataset_rows(catalog: Catalog, datasets: Sequence[Dataset]) -> list[DatasetRow]:
    """A dataset listing with file counts in one query."""
    ids = [d.id for d in datasets]
    with catalog.session() as s:
        counts = dict(s.execute(select(DatasetFile.dataset_id, func.count())
                                .where(DatasetFile.dataset_id.in_(ids)).group_by(DatasetFile.dataset_id)).all())
    return [DatasetRow(id=d.id, name=d.name, created_at=d.created_at, files=counts.get(d.id, 0)) for d in datasets]


def preparation_view(run: PreparationRun | None) -> PreparationView | None:
    if run is None:
        return None
    return PreparationView(version=run.version, accepted_seconds=run.summary.get("accepted_seconds"),
                           enough=run.summary.get("enough"), message=run.summary.get("message", ""),
                           report_url=report_url(run.dataset_id, run.version))


def dataset_view(catalog: Catalog, ds: Dataset) -> DatasetView:
    latest, running = catalog.latest_run(ds.id), catalog.latest_run(ds.id, status="running")
    preparing = None
    if running is not None and (latest is None or running.created_at >= latest.created_at):
        preparing = PreparingView(version=running.version, progress_done=running.progress_done,
                                  progress_total=running.progress_total, started_at=running.created_at)
    return DatasetView(id=ds.id, name=ds.name, created_at=ds.created_at,
                       files=[FileView.model_validate(f) for f in catalog.files(ds.id)],
                       latest_preparation=preparation_view(latest), preparing=preparing)


def file_views(files: Sequence[DatasetFile]) -> list[FileView]:
    return [FileView.model_validate(f) for f in files]


class BaseModelRow(BaseModel):
    """One base model in a listing; `latest` is the pinned one, else the newest."""

    id: str
    latest: bool
    pinned: bool = Field(exclude=True)
    source: str
    sample_rate: int
    created_at: datetime

    @classmethod
    def of(cls, info: Any) -> BaseModelRow:
        return cls(id=info.id, latest=info.latest, pinned=info.pinned, source=info.source,
                   sample_rate=info.sample_rate, created_at=info.created_at)


class RegisteredBaseModel(BaseModelRow):
    """A base model just registered (`created`) or found already registered, with its import summary."""

    model_config = ConfigDict(extra="allow")

    created: bool
    kind: str
    uri: str = Field(exclude=True)
    distillation: dict[str, Any] | None = None

    @classmethod
    def of(cls, info: Any) -> RegisteredBaseModel:
        row = BaseModelRow.of(info)
        return cls(**dict(row), created=info.newly_registered, kind=info.kind, uri=info.uri, **info.summary)


class BaseScores(BaseModel):
    """The base model's scores on the same sentences and voice: the floor a fine-tune starts from."""

    model_id: str
    wer: float
    speaker_similarity: float | None
    dnsmos: float


class Scores(BaseModel):
    """A model's evaluation: word error rate by Whisper, speaker similarity to held-out real speech,
    DNSMOS; with the ceiling (the real held-out clips' own similarity to their voice) and the floor
    (its base model) when they were measured."""

    wer: float
    speaker_similarity: float | None
    dnsmos: float
    ceiling_similarity: float | None = None
    base: BaseScores | None = None
    wer_by_seed: list[float] = Field(default_factory=list,
                                     description="each synthesis seed's own WER: the spread of a single reading")

    def line(self) -> str:
        """WER, similarity and DNSMOS, each next to its floor (the base model) and the similarity's
        ceiling: what the CLI prints and the fine-tune summary artifact shows."""
        base = self.base
        sim = "—" if self.speaker_similarity is None else f"{self.speaker_similarity:.3f}"
        if self.ceiling_similarity is not None:
            sim += f" of a possible {self.ceiling_similarity:.3f}"
        if base is not None and base.speaker_similarity is not None:
            sim += f", up from {base.speaker_similarity:.3f}"
        wer = f"{self.wer:.1%}"
        if len(self.wer_by_seed) > 1:
            wer += f" ({len(self.wer_by_seed)} seeds: {min(self.wer_by_seed):.1%}–{max(self.wer_by_seed):.1%})"
        wer += f" (base model {base.wer:.1%})" if base is not None else ""
        mos = f"{self.dnsmos:.2f}" + (f" (base model {base.dnsmos:.2f})" if base is not None else "")
        return f"WER {wer}, speaker similarity {sim}, DNSMOS {mos}"


class EvaluationView(Scores):
    """Scores with the per-sentence rows behind them (text, transcript, WER, similarity, DNSMOS)."""

    sentences: list[dict[str, Any]] = Field(default_factory=list, exclude=True)


class FineTuneSummary(BaseModel):
    """What a fine-tune produced: the pinned model id, how long it trained and how it scores."""

    model_id: str
    base_model_id: str
    run_id: str
    dataset_id: str
    dataset_version: str
    steps: int
    stopped_by: str
    best_step: int | None = Field(default=None, description="the validated step whose weights were exported")
    onnx_uri: str = Field(exclude=True)
    loss_curve_uri: str | None = Field(exclude=True)
    evaluation: Scores


class TrainingBundle(BaseModel):
    """A training bundle written for a GPU node that has only torch and numpy."""

    dest: str
    dataset_id: str
    dataset_version: str
    base_model_id: str
    weights: str
    items: int
    audio_seconds: float
    files: dict[str, int] = Field(description="file name -> size in bytes")
    total_bytes: int
    train_command: str


class TtsResult(BaseModel):
    model_id: str
    output: str
    sample_rate: int
    format: str = Field(description="the container: wav, raw, mp3, opus, aac or flac")
    encoding: str | None = Field(None, description="the samples of wav and raw audio")
    duration_s: float
    conditioned: bool


class ApiKeyCreated(BaseModel):
    account_id: str
    key_id: str
    secret: str = Field(description="shown this once; only its hash is stored")


class CatalogRevision(BaseModel):
    database: str
    revision: str


class LocalServerView(BaseModel):
    """The home's local Prefect server."""

    running: bool
    pid: int | None = None
    api_url: str | None = None
    ui_url: str | None = None
    stopped_pid: int | None = None
    flow_daemon_pid: int | None = Field(default=None, description="the flow daemon that runs `provoice dataset` "
                                                                 "flows (running, or just stopped)")
