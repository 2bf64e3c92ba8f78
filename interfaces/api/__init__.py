"""The HTTP API (FastAPI): datasets, fine-tunes, voices, text-to-speech and credits, per account."""

from interfaces.api.app import create_app

__all__ = ["create_app"]
