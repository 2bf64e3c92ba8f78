"""The HTTP API (FastAPI): datasets, fine-tunes, voices, text-to-speech and credits, per account."""
