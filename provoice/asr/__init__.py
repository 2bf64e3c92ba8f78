"""Speech recognition with faster-whisper (Whisper in CTranslate2)."""
