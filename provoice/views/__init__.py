"""What users see of catalog rows: one set of pydantic models for the HTTP API's responses and the
CLI's `--json`, so the two shapes are one. Schemas only, one module per resource; the queries that
fill them live beside the services that own the rows (`provoice.dataset.queries`,
`provoice.pvc.queries`, `provoice.consent`).

Stored objects are named by id or by the API route that serves them (`report_url`,
`preview_url`, ...), never by storage URI: a URI tells a caller where the server keeps its files
and opens nothing for them. The URIs stay on the models for the code that needs them, excluded
from every dump."""

from provoice.views.accounts import ApiKeyCreated, ApiKeyView
from provoice.views.base import View, stored
from provoice.views.base_models import BaseModelRow, RegisteredBaseModel
from provoice.views.consent import ConsentPromptView, ConsentResultView, ConsentView
from provoice.views.credits import BalanceView, CreditEntryView
from provoice.views.datasets import (
    DatasetFiles,
    DatasetReport,
    DatasetRow,
    DatasetView,
    FileView,
    PreparationView,
    PreparedFile,
    PrepareStarted,
    PrepareSummary,
    PreparingView,
    RemovedFile,
    SegmentPage,
    SegmentView,
    report_url,
)
from provoice.views.evaluation import EVALUATION_SCORES, Evaluation
from provoice.views.ops import BackgroundProcessView, CatalogRevision, LocalServerView
from provoice.views.pvcs import PvcRun, PvcView, PvcVoiceView, RetrainView
from provoice.views.speech import TtsResult
from provoice.views.training import FineTuneResult, TrainingBundle
from provoice.views.voices import PiperExportView, VoiceView

__all__ = [
    "EVALUATION_SCORES",
    "ApiKeyCreated",
    "ApiKeyView",
    "BackgroundProcessView",
    "BalanceView",
    "BaseModelRow",
    "CatalogRevision",
    "ConsentPromptView",
    "ConsentResultView",
    "ConsentView",
    "CreditEntryView",
    "DatasetFiles",
    "DatasetReport",
    "DatasetRow",
    "DatasetView",
    "Evaluation",
    "FileView",
    "FineTuneResult",
    "LocalServerView",
    "PiperExportView",
    "PreparationView",
    "PrepareStarted",
    "PrepareSummary",
    "PreparedFile",
    "PreparingView",
    "PvcRun",
    "PvcView",
    "PvcVoiceView",
    "RegisteredBaseModel",
    "RemovedFile",
    "RetrainView",
    "SegmentPage",
    "SegmentView",
    "TrainingBundle",
    "TtsResult",
    "View",
    "VoiceView",
    "report_url",
    "stored",
]
