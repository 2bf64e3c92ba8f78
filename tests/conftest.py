"""Shared fixtures: generated speech, isolated ProVoice homes, one Prefect harness, a moto S3 server."""

from __future__ import annotations

import os
import socket
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# CLI tests run their flows in-process; the flow daemon's own tests turn it on.
os.environ.setdefault("PROVOICE_FLOW_DAEMON", "false")
# The local servers and daemons tests start wait on nothing but the tests themselves, which share the
# cores: at a lower priority they would wait behind the other test workers (tests/deployments checks it).
os.environ.setdefault("PROVOICE_BACKGROUND_NICE", "0")

import pytest

from deployments import postgres_server
from provoice import synthetic
from provoice.settings import Settings

MAIN_TEXT = synthetic.SENTENCES[:3]
#: Tests score random tiny models: evaluations read 4 sentences once each and validations 3 (the
#: train-flow test checks several seeds); the product's defaults are 16 × 3 and 10.
QUICK_SCORING = {"PROVOICE_EVAL_SEEDS": "1", "PROVOICE_EVAL_SENTENCES": "4", "PROVOICE_TRAIN_VALIDATION_SENTENCES": "3"}
OTHER_TEXT = synthetic.SENTENCES[3:5]


def pytest_configure(config) -> None:
    """Under pytest-xdist (`make test`) the workers share the cores: each worker's torch takes its share
    of them, instead of every worker spinning a thread per core. OMP_NUM_THREADS stays as it is, for the
    processes the tests start (and the Dask test that checks what reaches them)."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        import importlib.util

        if importlib.util.find_spec("torch") is not None:
            import torch

            torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // int(workers)))


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory):
    """Main-speaker speech (`main.wav`, three sentences) and another speaker (`other.wav`)."""
    synthetic.require_tools()
    d = tmp_path_factory.mktemp("speech")
    synthetic.speech_file(d / "main.wav", MAIN_TEXT)
    synthetic.speech_file(d / "other.wav", OTHER_TEXT, voice=synthetic.OTHER_VOICE, pitch=70)
    return d


def pytest_generate_tests(metafunc) -> None:
    """A test marked `both_databases` runs once on SQLite and once on PostgreSQL."""
    if metafunc.definition.get_closest_marker("both_databases") and "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server per test process (see deployments/postgres_server.py)."""
    with postgres_server.postgres_server() as server:
        yield server


@pytest.fixture
def database_url(request):
    """The catalog URL a test's `settings` use: None (the home's SQLite file) unless the test runs on
    PostgreSQL, where it gets a database of its own, dropped afterwards."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield None
        return
    with request.getfixturevalue("postgres").fresh_database() as url:
        yield url


@pytest.fixture
def settings(tmp_path, monkeypatch, database_url) -> Settings:
    """A fresh ProVoice home for one test; the environment carries it into flows. A local Prefect
    server a test started in the home is stopped when it ends. Training needs no consent here
    (tests about other things); the consent tests and the demo require it. Scoring is QUICK_SCORING."""
    monkeypatch.setenv("PROVOICE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PROVOICE_MIN_SPEECH_SECONDS", "30")
    monkeypatch.setenv("PROVOICE_REQUIRE_CONSENT", "false")
    if database_url:
        monkeypatch.setenv("PROVOICE_DATABASE_URL", database_url)
    for key, value in QUICK_SCORING.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    yield settings
    from deployments import flow_daemon
    from deployments.local_server import RECORD, LocalServer

    if (settings.home / flow_daemon.RECORD).exists():
        flow_daemon.FlowDaemon(settings).stop(grace_s=5.0)
    if (settings.home / RECORD).exists():
        LocalServer(settings, say=lambda _: None).stop()


@pytest.fixture
def catalog(settings):
    """The catalog of the test's home (SQLite, or its own PostgreSQL database under `both_databases`)."""
    from provoice.catalog import Catalog

    return Catalog(settings)


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on 127.0.0.1, the way s3fs tests itself."""
    from moto.server import ThreadedMotoServer

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_settings(tmp_path, monkeypatch, s3_endpoint) -> Settings:
    """Settings whose blob storage is an S3 bucket on the moto server."""
    import s3fs

    bucket = f"pv-{os.urandom(4).hex()}"
    s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint}).mkdir(bucket)
    monkeypatch.setenv("PROVOICE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PROVOICE_STORAGE_URI", f"s3://{bucket}/store")
    monkeypatch.setenv("PROVOICE_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("PROVOICE_MIN_SPEECH_SECONDS", "30")
    monkeypatch.setenv("PROVOICE_REQUIRE_CONSENT", "false")
    for key, value in QUICK_SCORING.items():
        monkeypatch.setenv(key, value)
    return Settings()


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate after lower-casing and dropping punctuation."""
    import re

    import jiwer

    def norm(text: str) -> list[str]:
        return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()

    return jiwer.wer(" ".join(norm(reference)), " ".join(norm(hypothesis)))


def narrator_dataset(catalog, folder, files: int, account_id: str | None = None):
    """A dataset of `files` espeak chapters (8 sentences each), ingested with the ingest flow."""
    from flows.ingest import ingest_files

    folder.mkdir()
    for i in range(files):
        synthetic.speech_file(folder / f"chapter{i}.wav", synthetic.corpus(8, start=2 * i))
    ds = catalog.create_dataset("narrator", account_id=account_id)
    ingest_files(ds.id, [str(folder)])
    return ds


NARRATOR_CHAPTERS = 5


@pytest.fixture(scope="session")
def prepared_chapters(tmp_path_factory, prefect_harness) -> Settings:
    """A home whose `chapters/` folder holds `narrator_dataset`'s chapters, generated and prepared once
    per session: its store's `work/` keeps preparation's results by content (test_prepare_flow covers
    that work itself; the flow tests need only its outcome)."""
    from flows.prepare import prepare_dataset
    from provoice.catalog import Catalog

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROVOICE_HOME", str(tmp_path_factory.mktemp("prepared")))
        mp.setenv("PROVOICE_REQUIRE_CONSENT", "false")
        prepared = Settings()
        ds = narrator_dataset(Catalog(prepared), prepared.home / "chapters", NARRATOR_CHAPTERS)
        prepare_dataset(ds.id)
    return prepared


def copy_chapters(prepared: Settings, folder: Path, chapters: range) -> Path:
    """`narrator_dataset`'s chapters `chapters` as WAVs in a new `folder`, copied from `prepared_chapters`."""
    import shutil

    folder.mkdir()
    for i in chapters:
        shutil.copyfile(prepared.home / "chapters" / f"chapter{i}.wav", folder / f"chapter{i}.wav")
    return folder


@pytest.fixture
def prepared_narrator(settings, prepared_chapters):
    """`narrator_dataset(catalog, folder, files, account_id=None)` whose preparation is done already:
    the session's prepared work goes into this test's store first (its URIs moved to this store), so
    the test's prepare runs every step and finds each one's result; ingest runs as ever."""
    from flows.ingest import ingest_files
    from provoice.storage import Storage

    template, store = Storage.from_settings(prepared_chapters), Storage.from_settings(settings)
    for key in template.list("work"):
        data = template.read_bytes(key)
        if key.endswith(".json"):
            data = data.replace(template.root_uri.encode(), store.root_uri.encode())
        store.write_bytes(key, data)

    def dataset(catalog, folder: Path, files: int, account_id: str | None = None):
        copy_chapters(prepared_chapters, folder, range(files))
        ds = catalog.create_dataset("narrator", account_id=account_id)
        ingest_files(ds.id, [str(folder)])
        return ds

    return dataset


def read_aloud(text: str, dest, voice: str = synthetic.MAIN_VOICE, pitch: int | None = None):
    """A recording of `text` in a generated voice (the dataset's voice by default)."""
    return synthetic.speak(text, dest, voice, pitch)


def give_consent(catalog, settings, pvc_id: str, folder):
    """The speaker consents the honest way: a prompt, read aloud in the dataset's voice, verified."""
    from provoice.consent import new_prompt, submit_recording

    prompt = new_prompt(catalog, settings, pvc_id)
    folder.mkdir(parents=True, exist_ok=True)
    wav = read_aloud(prompt.prompt, folder / f"consent-{pvc_id}.wav")
    sub = submit_recording(catalog, settings, pvc_id, wav, wav.name)
    assert sub.attempt.verified, sub.attempt.reason
    return sub


STEADY_PHRASE = ["lantern", "potato", "velvet", "harvest"]


@pytest.fixture
def steady_phrase(monkeypatch):
    """One-time words that espeak-ng and Whisper tiny.en always agree on, so a test's reading never
    hinges on the draw (about 1 in 30 random prompts has a word the tiny model mishears in espeak)."""
    monkeypatch.setattr("provoice.consent.service.one_time_phrase", lambda n: STEADY_PHRASE[:n])
    return STEADY_PHRASE


def served_model(settings, model_id: str = "tiny-base/served", quiet: bool = False) -> str:
    """A tiny conditioned model whose voice layers were moved (as training moves them), exported
    with its ONNX graph as the fine-tune flow exports it; `quiet` gives it noise scales of 0, so
    its speech is the same on every call."""
    import torch

    from provoice.storage import Storage
    from provoice.voice_models import BaseModelRegistry, export_voice_onnx
    from provoice.voice_models.export import export_generator
    from provoice.voice_models.finetune import with_voice_conditioning
    from provoice.voice_models.model_store import MODELS_PREFIX

    registry = BaseModelRegistry(settings)
    base_id = model_id.split("/")[0]
    registry.create_random(base_id, tiny=True)
    generator, _, meta = registry.load(base_id)
    conditioned = with_voice_conditioning(generator, gin_channels=8, text_side=False)
    torch.manual_seed(3)
    with torch.no_grad():
        for name, p in conditioned.voice.named_parameters():
            if not name.startswith(("enc_p", "dp")):
                p.normal_(0, 2.0)
    metadata = {"base_model": meta.to_json()}
    if quiet:
        metadata["inference"] = {"noise_scale": 0.0, "length_scale": 1.0, "noise_w": 0.0}
    export_generator(
        Storage.from_settings(settings),
        MODELS_PREFIX,
        model_id,
        conditioned.eval(),
        meta.phoneme_id_map,
        metadata=metadata,
    )
    export_voice_onnx(settings, model_id)
    return model_id


PIPER_TTS = "piper-tts==1.8.0"


def _piper_venv() -> Path:
    """A virtual environment outside the project's with only piper-tts in it (GPL-3: never a
    ProVoice dependency), made once per machine under the user's cache and reused while it works."""
    import fcntl
    import shutil
    import subprocess
    import sys

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "provoice-tests"
    venv = cache / PIPER_TTS.replace("==", "-")
    python = venv / "bin" / "python"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test session may be making it right now
        check = [str(python), "-c", "import piper, piper.espeakbridge"]
        if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
            return venv
        building = cache / f"{venv.name}.building"
        shutil.rmtree(building, ignore_errors=True)
        base_python = getattr(sys, "_base_executable", None) or sys.executable
        steps = [
            [base_python, "-m", "venv", str(building)],
            [str(building / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", PIPER_TTS],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                pytest.fail(
                    f"could not install {PIPER_TTS} into a throwaway environment at {building} "
                    f"(is the package index reachable?): `{' '.join(step)}` exited {done.returncode}\n"
                    f"{done.stderr[-3000:]}",
                    pytrace=False,
                )
        shutil.rmtree(venv, ignore_errors=True)
        building.rename(venv)
        if subprocess.run(check, capture_output=True).returncode != 0:
            pytest.fail(f"{PIPER_TTS} installed at {venv} but `import piper` fails there", pytrace=False)
        return venv


@pytest.fixture(scope="session")
def piper_runtime():
    """`speak(onnx_path, text, out_wav, speaker=None) -> out_wav`: the real Piper runtime
    (piper-tts 1.8.0, its own onnxruntime and espeak-ng data) reading `text` with a Piper voice
    (`.onnx` with its `.onnx.json` beside it), as a user runs it: `python -m piper -m voice.onnx
    -c voice.onnx.json -f out.wav [--speaker N]`, the text on stdin. A non-zero exit or an empty WAV
    fails the test with Piper's stderr."""
    import subprocess
    import wave

    python = _piper_venv() / "bin" / "python"

    def speak(onnx_path, text: str, out_wav, speaker: int | None = None) -> Path:
        onnx_path, out_wav = Path(onnx_path), Path(out_wav)
        cmd = [str(python), "-m", "piper", "-m", str(onnx_path), "-c", f"{onnx_path}.json", "-f", str(out_wav)]
        if speaker is not None:
            cmd += ["--speaker", str(speaker)]
        # A clean environment: nothing of ProVoice's (PYTHONPATH, its venv) reaches Piper.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        done = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=300, env=env, cwd=out_wav.parent)
        if done.returncode != 0:
            pytest.fail(f"piper exited {done.returncode} on {onnx_path.name}:\n{done.stderr[-4000:]}", pytrace=False)
        frames = 0
        if out_wav.is_file() and out_wav.stat().st_size > 44:
            with wave.open(str(out_wav)) as w:
                frames = w.getnframes()
        if frames == 0:
            pytest.fail(f"piper wrote no audio for {onnx_path.name}:\n{done.stderr[-4000:]}", pytrace=False)
        return out_wav

    return speak
