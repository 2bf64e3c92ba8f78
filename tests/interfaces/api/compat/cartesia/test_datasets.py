"""Datasets and their files, and a dataset kept while a fine-tune uses it."""

from __future__ import annotations

import cartesia
import pytest

from tests.interfaces.api.compat.cartesia.conftest import wav


def test_datasets_and_their_files(client, app, served, base):
    ds = client.datasets.create(name="Narration", description="chapters one to three")
    assert (ds.name, ds.description) == ("Narration", "chapters one to three") and ds.id.startswith("ds_")
    others = [client.datasets.create(name=f"other {i}", description="") for i in range(3)]
    listed = [d.id for d in client.datasets.list(limit=2)]  # after the dataset of alice's voice
    assert len(listed) == 5 and listed[1:] == [ds.id, *(o.id for o in others)]
    client.datasets.update(ds.id, name="Narration v2", description="chapters one to four")
    shown = client.datasets.retrieve(ds.id)
    assert (shown.name, shown.description) == ("Narration v2", "chapters one to four")

    client.datasets.files.upload(ds.id, file=("take1.wav", wav(1.0), "audio/wav"), purpose="fine_tune")
    client.datasets.files.upload(ds.id, file=("take2.wav", wav(1.5), "audio/wav"), purpose="fine_tune")
    files = list(client.datasets.files.list(ds.id, limit=1))
    assert [f.filename for f in files] == ["take1.wav", "take2.wav"] and files[0].size == len(wav(1.0))
    raw = client.datasets.files.with_raw_response.upload(ds.id, file=("notes.txt", b"not audio", "text/plain"))
    rejected = raw.http_response.json()["data"][0]
    assert rejected["filename"] == "notes.txt" and rejected["status"] == "rejected" and rejected["reason"]
    client.datasets.files.delete(files[0].id, id=ds.id)
    client.datasets.files.delete(rejected["id"], id=ds.id)
    assert [f.filename for f in client.datasets.files.list(ds.id)] == ["take2.wav"]

    client.datasets.delete(others[0].id)
    with pytest.raises(cartesia.NotFoundError):
        client.datasets.retrieve(others[0].id)
    tune = client.fine_tunes.create(
        dataset=ds.id, name="Narrator", description="", language="en", model_id="sonic-3-2026-01-12"
    )
    with pytest.raises(cartesia.ConflictError) as in_use:
        client.datasets.delete(ds.id)
    assert tune.id in in_use.value.body["message"] and in_use.value.response.headers["x-should-retry"] == "false"
    assert [f.filename for f in client.datasets.files.list(ds.id)] == ["take2.wav"]  # nothing lost
