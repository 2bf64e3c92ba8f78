"""The caller's voices, paged and described as Cartesia describes them."""

from __future__ import annotations

import cartesia
import pytest

from provoice.catalog import Voice
from tests.interfaces.api.conftest import make_voice


def test_voices_page_to_the_end(client, served, app, bob):
    catalog = app.state.catalog
    made = [make_voice(catalog, served.account_id, served.voice.model_id).id for _ in range(11)]
    make_voice(catalog, bob.account_id, served.voice.model_id)
    listed = [v.id for v in client.voices.list(limit=5)]
    assert sorted(listed) == sorted([served.voice.id, *made]) and len(set(listed)) == 12
    first = client.voices.list(limit=5)
    assert first.has_more is True and len(first.data) == 5 and first.next_page == first.data[-1].id
    back = client.voices.list(limit=2, ending_before=first.data[-1].id)
    assert [v.id for v in back.data] == [v.id for v in first.data[2:4]]
    assert client.voices.list(limit=5, starting_after=listed[-1]).data == []
    voice = client.voices.get(served.voice.id)
    assert (voice.id, voice.name, voice.language, voice.access, voice.visibility, voice.is_owner) == (
        served.voice.id,
        "Narrator 1",
        "en",
        "private",
        "owner",
        True,
    )
    assert voice.locales[0].locale == "en" and voice.locales[0].is_native is True
    assert [v.id for v in client.voices.list(q=served.voice.id[-8:])] == [served.voice.id]
    with catalog.session() as s:
        s.get(Voice, served.voice.id).preview_uri = "file:///preview.wav"
    assert client.voices.get(served.voice.id).preview_file_url is None  # only when asked for
    shown = client.voices.get(served.voice.id, expand=["preview_file_url"])
    assert shown.preview_file_url == f"{served.url}/voices/{served.voice.id}/preview"
    with pytest.raises(cartesia.NotFoundError):
        client.voices.get(make_voice(catalog, bob.account_id, served.voice.model_id).id)
