import io
import wave

import pytest

from provoice.credits import balance, grant
from tests.interfaces.api.conftest import make_voice


def test_accounts_see_only_their_own_voices(client, app, alice, bob, base):
    mine = make_voice(app.state.catalog, alice.account_id, base)
    theirs = make_voice(app.state.catalog, bob.account_id, base)
    listed = client.get("/voices", headers=alice.headers).json()
    assert listed == [
        {
            "id": mine.id,
            "name": "Narrator 1",
            "model_id": base,
            "pvc_id": mine.pvc_id,
            "source_file_id": "f_source",
            "preview_url": None,
        }
    ]
    assert client.get(f"/voices/{mine.id}", headers=alice.headers).json() == listed[0]
    assert client.get(f"/voices/{theirs.id}", headers=alice.headers).status_code == 404
    r = client.post("/tts", json={"model_id": base, "voice_id": theirs.id, "text": "Hi."}, headers=alice.headers)
    assert r.status_code == 404


def test_a_voice_on_another_model_is_refused_naming_the_right_one(client, app, alice, base):
    voice = make_voice(app.state.catalog, alice.account_id, base)
    r = client.post(
        "/tts", json={"model_id": "newer-base", "voice_id": voice.id, "text": "Hello."}, headers=alice.headers
    )
    assert r.status_code == 409 and r.json()["error"] == "ModelMismatch"
    assert f"belongs to model {base}" in r.json()["detail"]


@pytest.mark.both_databases
def test_tts_returns_a_wav_and_charges_one_and_a_half_credits_a_character(client, app, alice, base):
    catalog = app.state.catalog
    voice = make_voice(catalog, alice.account_id, base)
    request = {"model_id": base, "voice_id": voice.id, "text": "Hello there."}
    r = client.post("/tts", json=request, headers=alice.headers)
    assert r.status_code == 402 and "needs 18 credits, available 0" in r.json()["detail"]

    grant(catalog, alice.account_id, 100)
    headers = {**alice.headers, "Idempotency-Key": "req-1"}
    r = client.post("/tts", json=request, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(r.content)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050) and w.getnframes() > 0
    assert balance(catalog, alice.account_id) == 82
    assert client.post("/tts", json=request, headers=headers).status_code == 200
    assert balance(catalog, alice.account_id) == 82
    assert client.get("/credits/balance", headers=alice.headers).json() == {
        "balance": 82.0,
        "held": 0.0,
        "available": 82.0,
    }


def test_tts_validation_is_422(client, alice):
    r = client.post("/tts", json={"model_id": "m", "voice_id": "v", "text": ""}, headers=alice.headers)
    assert r.status_code == 422


def test_tts_speaks_in_the_asked_format_and_the_key_binds_it(client, app, alice, settings):
    from tests.conftest import served_model
    from tests.interfaces.api.compat.conftest import decode

    catalog = app.state.catalog
    voice = make_voice(catalog, alice.account_id, served_model(settings, quiet=True))
    grant(catalog, alice.account_id, 1000)
    request = {
        "model_id": voice.model_id,
        "voice_id": voice.id,
        "text": "Hello there.",
        "output_format": {"container": "mp3", "sample_rate": 44100, "bit_rate": 64000},
    }
    headers = {**alice.headers, "Idempotency-Key": "req-mp3"}
    r = client.post("/tts", json=request, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
    rate, seconds, codec = decode(r.content)
    assert (rate, codec[:3]) == (44100, "mp3") and seconds > 0.3
    assert client.post("/tts", json=request, headers=headers).content == r.content  # kept, not redone
    assert balance(catalog, alice.account_id) == 982
    other = {**request, "output_format": {"container": "wav", "encoding": "pcm_mulaw", "sample_rate": 8000}}
    assert client.post("/tts", json=other, headers=headers).status_code == 409  # the key binds the format
    r = client.post("/tts", json=other, headers=alice.headers)
    assert r.status_code == 200 and decode(r.content)[:3:2] == (8000, "pcm_mulaw")
    r = client.post(
        "/tts", json={**request, "output_format": {"container": "opus", "sample_rate": 44100}}, headers=alice.headers
    )
    assert r.status_code == 422 and "opus cannot be encoded at 44100 Hz" in r.json()["detail"]
    r = client.post("/tts", json={**request, "speed": 5}, headers=alice.headers)
    assert r.status_code == 422
    assert balance(catalog, alice.account_id) == 964
