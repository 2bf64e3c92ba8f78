"""Typed domain errors: each carries a message a user can act on."""


class ProVoiceError(Exception):
    """Base class; the CLI prints the message without a traceback."""


class NotFound(ProVoiceError):
    """An id (dataset, file, run) that the catalog does not know."""


class InvalidSource(ProVoiceError):
    """A path or URI that cannot be read or is not allowed."""


class FileRejected(ProVoiceError):
    """A single file failed a step for a reason of its own; the dataset goes on without it."""


class UnsupportedFormat(FileRejected):
    """Audio in a container or codec that is not one of the accepted formats."""


class CorruptAudio(FileRejected):
    """Audio that cannot be decoded completely (empty, truncated, not audio)."""


class NotEnoughSpeech(FileRejected):
    """A file in which voice activity detection finds no usable speech."""


class TransientError(ProVoiceError):
    """A failure worth retrying (storage hiccup, decoder killed by the OS)."""


class AuthError(ProVoiceError):
    """An API key that is unknown, malformed or revoked."""


class CsrfRefused(ProVoiceError):
    """A browser request that changes something without its session's CSRF token."""


class InsufficientCredits(ProVoiceError):
    """An account whose balance does not cover the work asked for; nothing was charged."""


class IdempotencyConflict(ProVoiceError):
    """An idempotency key reused for a different charge, which would otherwise be silently dropped."""


class ConfigurationError(ProVoiceError):
    """A setting or option that cannot work as given; the message names it and what to set."""


class InfrastructureError(ProVoiceError):
    """Storage, the database or the Prefect API failed after their retries: nothing is wrong with the
    user's files, the run stopped and can be retried once the service is back."""


class StorageFull(InfrastructureError):
    """The blob store has no room left (ENOSPC, a quota): the write was undone, what was stored stays."""


def is_infrastructure_failure(exc: BaseException) -> bool:
    """An error from the services ProVoice stands on (not from a file, not a bug of ours)."""
    if isinstance(exc, InfrastructureError | TransientError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, FileRejected):
        return False
    if isinstance(exc, OSError):
        return True
    module = type(exc).__module__.split(".")[0]
    return module in {"botocore", "aiobotocore", "s3fs", "fsspec", "sqlalchemy", "httpx", "httpcore", "psycopg"}
