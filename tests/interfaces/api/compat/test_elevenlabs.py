"""The official `elevenlabs` client, unmodified, against `/elevenlabs` on a real socket: speech in
every format it names, voices with their fine-tuning state, professional voice cloning with the
consent gate, errors in ElevenLabs' shape, and credits that add up."""

from __future__ import annotations

import io
import time
import wave
from decimal import ROUND_DOWN, Decimal

import pytest
from elevenlabs import ElevenLabs
from elevenlabs.core.api_error import ApiError
from elevenlabs.errors import UnprocessableEntityError

from interfaces.api.app import create_app
from interfaces.api.compat.elevenlabs import STAGES
from interfaces.api.runner import PREPARE_DEPLOYMENT, PVC_DEPLOYMENT, Runner
from provoice import synthetic
from provoice.accounts import create_account, create_api_key
from provoice.credits import account_balance, balance, grant, tts_cost
from provoice.pvc.service import get_pvc
from provoice.pvc.status import PvcStatus
from provoice.settings import Settings
from provoice.tts.onnx_voice import OnnxVoice
from tests.conftest import read_aloud
from tests.interfaces.api.compat.conftest import decode
from tests.interfaces.api.conftest import live, make_voice
from tests.pvc_states import set_status

TEXT = "The first sentence is here. A second one follows it."
EIGHT = " ".join(
    f"Sentence number {n} is spoken on its own."
    for n in ("one", "two", "three", "four", "five", "six", "seven", "eight")
)
#: output_format -> (content type, sample rate, codec as FFmpeg reads it)
FORMATS = {
    "mp3_44100_128": ("audio/mpeg", 44100, "mp3float"),
    "mp3_22050_32": ("audio/mpeg", 22050, "mp3float"),
    "pcm_16000": ("application/octet-stream", 16000, "pcm_s16le"),
    "pcm_24000": ("application/octet-stream", 24000, "pcm_s16le"),
    "pcm_44100": ("application/octet-stream", 44100, "pcm_s16le"),
    "ulaw_8000": ("application/octet-stream", 8000, "pcm_mulaw"),
    "alaw_8000": ("application/octet-stream", 8000, "pcm_alaw"),
    "opus_48000_64": ("audio/ogg", 48000, "opus"),
    "wav_44100": ("audio/wav", 44100, "pcm_s16le"),
}


def eleven(url: str, key: str) -> ElevenLabs:
    return ElevenLabs(api_key=key, base_url=f"{url}/elevenlabs")


def read_back(output_format: str, data: bytes) -> tuple[int, float, str]:
    """(sample rate, seconds, codec) of the audio in an ElevenLabs output format."""
    codec, rate = output_format.split("_")[:2]
    raw = {"pcm": "s16le", "ulaw": "mulaw", "alaw": "alaw"}.get(codec)
    return decode(data, raw, int(rate) if raw else None)


def api_error(call) -> ApiError:
    """The error the client raises, its body read as ElevenLabs' `detail`."""
    with pytest.raises(ApiError) as raised:
        result = call()
        if hasattr(result, "__next__"):
            b"".join(result)
    assert set(raised.value.body["detail"]) == {"status", "message"}, raised.value.body
    return raised.value


@pytest.fixture
def quiet(monkeypatch):
    """The served graph rendered without noise: the same text makes the same audio every time."""
    real = OnnxVoice.render
    monkeypatch.setattr(
        OnnxVoice,
        "render",
        lambda self, ids, g, noise_scale, length_scale, noise_w: real(self, ids, g, 0.0, length_scale, 0.0),
    )


def test_every_output_format_comes_back_decodable_whole_and_streamed_and_paid_once(app, served, quiet):
    el = eleven(served.url, served.key)
    voice = served.voice
    with el.text_to_speech.with_raw_response.convert(voice.id, text=TEXT, output_format="wav_22050") as r:
        reference = b"".join(r.data)
    with wave.open(io.BytesIO(reference)) as w:  # a whole WAV: its header has the real sizes
        assert w.getframerate() == 22050
        seconds = w.getnframes() / 22050
    assert 0.5 < seconds < 20
    calls = 1
    for output_format, (media_type, rate, codec) in FORMATS.items():
        for method in (el.text_to_speech.with_raw_response.convert, el.text_to_speech.with_raw_response.stream):
            with method(
                voice.id,
                text=TEXT,
                output_format=output_format,
                model_id="eleven_multilingual_v2",
                voice_settings={"stability": 0.5},
            ) as r:
                assert r.headers["content-type"] == media_type, output_format
                assert r.headers["x-sample-rate"] == str(rate)
                data = b"".join(r.data)
            calls += 1
            slack = 0.1 if output_format.startswith(("mp3", "opus")) else 0.005  # a codec's frames and delay
            got_rate, got_seconds, got_codec = read_back(output_format, data)
            assert (got_rate, got_codec) == (rate, codec), output_format
            assert abs(got_seconds - seconds) < slack, (output_format, method.__name__)
    default = b"".join(el.text_to_speech.convert(voice.id, text=TEXT))  # mp3_44100_128 by default
    assert read_back("mp3_44100_128", default)[:1] == (44100,)
    slower = b"".join(
        el.text_to_speech.convert(voice.id, text=TEXT, output_format="pcm_16000", voice_settings={"speed": 0.5})
    )
    assert len(slower) / 2 / 16000 > 1.5 * seconds  # the tiny model's shortest sounds cannot stretch all the way
    assert balance(app.state.catalog, served.account_id) == 10_000 - (calls + 2) * tts_cost(TEXT)
    assert account_balance(app.state.catalog, served.account_id).held == 0


def test_refusals_are_the_clients_own_errors_and_hold_nothing(app, served, bob):
    catalog = app.state.catalog
    el = eleven(served.url, served.key)
    missing = api_error(lambda: el.text_to_speech.convert("voice_nope", text=TEXT))
    assert missing.status_code == 404 and missing.body["detail"]["status"] == "not_found"
    assert "voices.get_all" in missing.body["detail"]["message"]
    assert api_error(lambda: el.voices.get("voice_nope")).status_code == 404

    bad = api_error(lambda: eleven(served.url, "pv_wrong").voices.get_all())
    assert bad.status_code == 401 and bad.body["detail"]["status"] == "invalid_api_key"

    bobs = make_voice(catalog, bob.account_id, served.voice.model_id)
    as_bob = eleven(served.url, bob.headers["X-API-Key"])
    broke = api_error(lambda: as_bob.text_to_speech.stream(bobs.id, text=TEXT))
    assert broke.status_code == 402 and broke.body["detail"]["status"] == "quota_exceeded"
    assert api_error(lambda: as_bob.voices.get(served.voice.id)).status_code == 404  # alice's voice is not bob's

    empty = api_error(lambda: el.text_to_speech.convert(served.voice.id, text=""))
    assert empty.status_code == 422 and "text" in empty.body["detail"]["message"]
    for output_format, says in (
        ("flac_44100", "unknown output_format"),
        ("opus_44100_64", "48000"),
        ("pcm_96000", "out of range"),
        ("mp3_44100_999", "bit/s"),
    ):
        with pytest.raises(UnprocessableEntityError) as raised:
            b"".join(el.text_to_speech.convert(served.voice.id, text=TEXT, output_format=output_format))
        assert raised.value.status_code == 422 and raised.value.body["detail"]["status"] == "bad_audio_format"
        assert says in raised.value.body["detail"]["message"], raised.value.body
    assert balance(catalog, served.account_id) == 10_000 and balance(catalog, bob.account_id) == 0
    assert account_balance(catalog, served.account_id).held == 0 == account_balance(catalog, bob.account_id).held


def test_a_stream_cut_short_pays_for_the_sentences_sent(app, served, slow_renders):
    catalog = app.state.catalog
    chunks = eleven(served.url, served.key).text_to_speech.stream(
        served.voice.id, text=EIGHT, output_format="pcm_16000"
    )
    assert next(chunks)
    chunks.close()
    deadline = time.monotonic() + 20
    while account_balance(catalog, served.account_id).held and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(slow_renders) < 8  # synthesis stopped with the client
    from provoice.voice_models import load_synthesizer

    units = load_synthesizer(app.state.settings, served.voice.model_id).meta.front_end().sentence_units(EIGHT)
    lengths = [len(sentence) for sentence, _ in units]
    shares = {
        (tts_cost(EIGHT) * sum(lengths[:k]) / sum(lengths)).quantize(Decimal("0.001"), ROUND_DOWN)
        for k in range(1, len(lengths))
    }
    assert Decimal(10_000) - balance(catalog, served.account_id) in shares


def test_the_fine_tuning_state_maps_every_pvc_status():
    assert set(STAGES) == set(PvcStatus)
    assert {s.state for s in STAGES.values()} <= {"not_started", "queued", "fine_tuning", "fine_tuned", "failed"}


def test_voices_and_professional_voices_in_the_elevenlabs_shape(app, served, bob, base):
    catalog = app.state.catalog
    set_status(catalog, served.voice.pvc_id, PvcStatus.COMPLETED, model_id=served.voice.model_id)
    el = eleven(served.url, served.key)
    created = el.voices.pvc.create(name="Dana", language="en", description="a narrator")
    assert created.voice_id.startswith("pvc_")
    trained, base = (get_pvc(catalog, i).base_model_id for i in (served.voice.pvc_id, created.voice_id))

    listed = {v.voice_id: v for v in el.voices.get_all().voices}
    assert set(listed) == {served.voice.id, created.voice_id}
    voice, clone = listed[served.voice.id], listed[created.voice_id]
    assert voice.name == "Narrator 1" and voice.category == "professional"
    assert voice.fine_tuning.state == {trained: "fine_tuned"} and voice.fine_tuning.progress == {trained: 1.0}
    assert clone.name == "Dana" and clone.description == "a narrator" and clone.samples == []
    assert clone.fine_tuning.state == {base: "not_started"} and clone.fine_tuning.language == "en"
    assert clone.voice_verification.is_verified is False and clone.voice_verification.requires_verification is False
    assert el.voices.get(created.voice_id).fine_tuning.state == {base: "not_started"}
    assert el.voices.get(served.voice.id).voice_id == served.voice.id

    page = el.voices.search(page_size=1)
    assert len(page.voices) == 1 and page.has_more and page.total_count == 2
    rest = el.voices.search(page_size=1, next_page_token=page.next_page_token)
    assert {page.voices[0].voice_id, rest.voices[0].voice_id} == set(listed) and not rest.has_more
    assert [v.voice_id for v in el.voices.search(search="dana").voices] == [created.voice_id]
    assert [v.voice_id for v in el.voices.search(fine_tuning_state="fine_tuned").voices] == [served.voice.id]
    assert eleven(served.url, bob.headers["X-API-Key"]).voices.get_all().voices == []

    pcm = b"".join(el.text_to_speech.convert(served.voice.pvc_id, text=TEXT, output_format="pcm_16000"))
    assert len(pcm) > 16000  # a PVC id speaks with its first voice
    early = api_error(lambda: el.text_to_speech.convert(created.voice_id, text=TEXT))
    assert early.status_code == 400 and early.body["detail"]["status"] == "voice_not_ready"
    assert "not_started" in early.body["detail"]["message"]

    for call, says in (
        (lambda: el.voices.pvc.samples.speakers.separate(created.voice_id, "f_x"), "separate speakers"),
        (
            lambda: el.voices.pvc.verification.request(
                created.voice_id, files=[("id.pdf", b"%PDF", "application/pdf")]
            ),
            "captcha",
        ),
        (lambda: el.voices.pvc.update(created.voice_id, name="Other"), "voices.pvc.create"),
        (lambda: el.voices.pvc.samples.audio.get(created.voice_id, "f_x"), "samples"),
    ):
        refused = api_error(call)  # calls without a ProVoice counterpart say what to use
        assert refused.status_code == 400 and refused.body["detail"]["status"] == "not_supported"
        assert says in refused.body["detail"]["message"]
    unknown = api_error(lambda: el.voices.pvc.create(name="Dana", language="xx"))
    assert unknown.status_code == 422 and "language" in unknown.body["detail"]["message"]


@pytest.fixture
def consenting(monkeypatch, settings, base):
    """An app that trains only with consent, a runner that records what it would start, and an
    account with enough credits for a training hold."""
    monkeypatch.setenv("PROVOICE_REQUIRE_CONSENT", "true")
    app = create_app(Settings())
    starts: list[tuple[str, dict]] = []

    def start(name: str, parameters: dict) -> str:
        starts.append((name, parameters))
        return f"run-{len(starts)}"

    app.state.runner = Runner(start)
    catalog = app.state.catalog
    account = create_account(catalog, "Dana's studio")
    grant(catalog, account.id, 2_000_000)
    with live(app) as url:
        yield app, eleven(url, create_api_key(catalog, account.id)[1]), starts


def upload_takes(el: ElevenLabs, voice_id: str, folder) -> list:
    """Two recordings of the speaker, made now, as the voice's samples."""
    takes = [synthetic.speech_file(folder / f"take{i}.wav", synthetic.corpus(8, start=2 * i)) for i in range(2)]
    return el.voices.pvc.samples.create(voice_id, files=[(p.name, p.read_bytes(), "audio/wav") for p in takes])


def test_a_professional_voice_takes_samples_and_gives_a_captcha_but_never_trains_unverified(consenting, tmp_path):
    app, el, starts = consenting
    catalog = app.state.catalog
    voice_id = el.voices.pvc.create(name="Dana", language="en").voice_id
    refused = api_error(lambda: el.voices.pvc.train(voice_id))
    assert refused.status_code == 403 and refused.body["detail"]["status"] == "consent_required"
    assert "captcha" in refused.body["detail"]["message"]

    samples = upload_takes(el, voice_id, tmp_path)
    assert [s.file_name for s in samples] == ["take0.wav", "take1.wav"]
    assert all(s.status == "pending" and s.duration_secs > 5 for s in samples)
    dataset_id = get_pvc(catalog, voice_id).dataset_id
    assert starts == [(PREPARE_DEPLOYMENT, {"dataset_id": dataset_id})]  # the samples are prepared at once
    again = el.voices.pvc.samples.create(
        voice_id, files=[("again.wav", (tmp_path / "take0.wav").read_bytes(), "audio/wav")]
    )
    assert again[0].status == "rejected" and "duplicate" in again[0].reason
    assert el.voices.pvc.samples.delete(voice_id, again[0].sample_id).status == "ok"

    shown = el.voices.pvc.verification.captcha.with_raw_response.get(voice_id)
    text = shown._response.json()["text"]
    assert "the account Dana's studio" in text
    early = api_error(
        lambda: el.voices.pvc.verification.captcha.verify(
            voice_id, recording=("captcha.wav", read_aloud(text, tmp_path / "captcha.wav").read_bytes(), "audio/wav")
        )
    )
    assert early.status_code == 400 and early.body["detail"]["status"] == "samples_not_ready"
    clone = el.voices.get(voice_id)
    assert [s.sample_id for s in clone.samples] == [s.sample_id for s in samples]
    assert not clone.fine_tuning.is_allowed_to_fine_tune and clone.voice_verification.requires_verification
    assert api_error(lambda: el.voices.pvc.train(voice_id)).status_code == 403
    assert {name for name, _ in starts} == {PREPARE_DEPLOYMENT}  # never the training


@pytest.mark.integration
def test_a_professional_voice_trains_once_its_speaker_read_the_captcha(
    prefect_harness, consenting, tmp_path, steady_phrase
):
    from flows.prepare import prepare_dataset
    from provoice.pvc.budget import Budget
    from provoice.pvc.transitions import begin_training

    app, el, starts = consenting
    catalog, settings = app.state.catalog, app.state.settings
    voice_id = el.voices.pvc.create(name="Dana", language="en").voice_id
    upload_takes(el, voice_id, tmp_path)
    prepare_dataset(get_pvc(catalog, voice_id).dataset_id)  # what the started preparation does
    text = el.voices.pvc.verification.captcha.with_raw_response.get(voice_id)._response.json()["text"]
    assert all(word in text for word in steady_phrase[:2])
    reading = read_aloud(text, tmp_path / "captcha.wav").read_bytes()
    verified = el.voices.pvc.verification.captcha.verify(voice_id, recording=("captcha.wav", reading, "audio/wav"))
    assert verified.status == "verified", verified
    clone = el.voices.get(voice_id)
    assert clone.voice_verification.is_verified and clone.fine_tuning.is_allowed_to_fine_tune
    assert {s.status for s in clone.samples} == {"accepted"} and clone.fine_tuning.dataset_duration_seconds > 10

    assert el.voices.pvc.train(voice_id, model_id="eleven_multilingual_v2").status == "ok"
    assert starts[-1] == (PVC_DEPLOYMENT, {"pvc_id": voice_id, "retry": False})
    base = get_pvc(catalog, voice_id).base_model_id
    assert el.voices.get(voice_id).fine_tuning.state == {base: "queued"}
    assert account_balance(catalog, get_pvc(catalog, voice_id).account_id).held == 1_000_000
    begin_training(
        catalog, settings, voice_id, retry=False, budget=Budget(), flow_run_id=get_pvc(catalog, voice_id).flow_run_id
    )  # the worker takes it
    training = el.voices.get(voice_id).fine_tuning
    assert training.state == {base: "fine_tuning"} and not training.is_allowed_to_fine_tune
    twice = api_error(lambda: el.voices.pvc.train(voice_id))
    assert twice.status_code == 400 and "already training" in twice.body["detail"]["message"]
