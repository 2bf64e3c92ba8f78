"""ProVoice core library: audio, ASR, quality, catalog and storage, free of Prefect."""

__version__ = "0.1.0"
