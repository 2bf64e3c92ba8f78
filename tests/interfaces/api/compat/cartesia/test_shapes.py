"""Refusals in Cartesia's error shape, with nothing charged."""

from __future__ import annotations

import cartesia
import pytest

from provoice.credits import balance
from tests.interfaces.api.compat.cartesia.conftest import S16_NATIVE, TEXT, settled
from tests.interfaces.api.conftest import make_voice


def test_errors_come_in_cartesias_shape(client, served, bob, app):
    with pytest.raises(cartesia.NotFoundError) as missing:
        client.tts.generate(model_id="sonic-3", transcript="Hi.", voice="voice_nope", output_format=S16_NATIVE)
    body = missing.value.body
    assert set(body) == {"error_code", "title", "message", "request_id"} and body["error_code"] == "not_found"
    assert "voice_nope" in body["message"]
    with pytest.raises(cartesia.AuthenticationError):
        cartesia.Cartesia(api_key="pv_wrong", base_url=client.base_url, max_retries=0).voices.list()
    bob_voice = make_voice(app.state.catalog, bob.account_id, served.voice.model_id)
    poor = cartesia.Cartesia(api_key=bob.headers["X-API-Key"], base_url=client.base_url, max_retries=2)
    with pytest.raises(cartesia.APIStatusError) as broke:
        poor.tts.generate(model_id="sonic-3", transcript=TEXT, voice=bob_voice.id, output_format=S16_NATIVE)
    assert broke.value.status_code == 402 and broke.value.response.headers["x-should-retry"] == "false"
    assert broke.value.body["error_code"] == "insufficient_credits"
    with pytest.raises(cartesia.UnprocessableEntityError) as invalid:
        client.tts.generate(
            model_id="sonic-3",
            transcript=TEXT,
            voice=served.voice.id,
            output_format=S16_NATIVE,
            generation_config={"speed": 3.0},
        )
    assert "speed" in invalid.value.body["message"]
    with pytest.raises(cartesia.UnprocessableEntityError) as language:
        client.tts.generate(
            model_id="sonic-3", transcript=TEXT, voice=served.voice.id, output_format=S16_NATIVE, language="fr"
        )
    assert "speaks 'en'" in language.value.body["message"]
    assert settled(app, served.account_id) == 10_000 and balance(app.state.catalog, bob.account_id) == 0
