import pytest

from provoice.errors import InvalidSource
from provoice.storage import Storage


@pytest.fixture(params=["file", "s3"])
def storage(request, settings):
    if request.param == "s3":
        s = request.getfixturevalue("s3_settings")
        return Storage.from_settings(s)
    return Storage.from_settings(settings)


def test_roundtrip_and_listing(storage, tmp_path):
    uri = storage.write_json("a/b.json", {"x": 1})
    assert storage.key_of(uri) == "a/b.json"
    assert storage.read_json("a/b.json") == {"x": 1}
    local = tmp_path / "f.bin"
    local.write_bytes(b"abc")
    storage.put_file(local, "a/c.bin")
    assert storage.list("a") == ["a/b.json", "a/c.bin"]
    with storage.local_path("a/c.bin") as p:
        assert p.read_bytes() == b"abc"
    storage.delete("a/c.bin")
    assert not storage.exists("a/c.bin")


def test_staged_output_is_atomic(storage):
    with pytest.raises(RuntimeError), storage.staged_output("out/half.bin") as p:
        p.write_bytes(b"partial")
        raise RuntimeError("crash mid-write")
    assert not storage.exists("out/half.bin")
    with storage.staged_output("out/full.bin") as p:
        p.write_bytes(b"done")
    assert storage.read_bytes("out/full.bin") == b"done"


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "", "/"])
def test_traversal_keys_refused(storage, key):
    with pytest.raises(InvalidSource):
        storage.write_bytes(key, b"x")
