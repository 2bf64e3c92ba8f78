"""The multipart receiver on its own: files land on disk, and an oversized part stops the reading."""

import asyncio

import pytest
from starlette.requests import Request

from interfaces.api.errors import UploadTooLarge
from interfaces.api.uploads import Limits, human_bytes, receive_files, safe_filename


def per_file(n: int) -> Limits:
    return Limits(per_file=n, per_request=10**9, account_room=10**9, account_limit=10**9)


BOUNDARY = "xyzBOUNDARYxyz"


def request_of(chunks: list[bytes], consumed: list[int]) -> Request:
    async def receive():
        consumed.append(1)
        i = len(consumed) - 1
        return {"type": "http.request", "body": chunks[i], "more_body": i + 1 < len(chunks)}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())],
    }
    return Request(scope, receive)


def part(name: str, filename: str | None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()


def test_files_are_written_and_fields_ignored(tmp_path):
    body = (
        part("files", "../a.wav")
        + b"AAAA\r\n"
        + part("note", None)
        + b"hello\r\n"
        + part("files", "C:\\x\\b.mp3")
        + b"BB\r\n"
        + f"--{BOUNDARY}--\r\n".encode()
    )
    uploads = asyncio.run(receive_files(request_of([body[:30], body[30:]], []), tmp_path, per_file(10)))
    assert [(u.filename, u.size, u.path.read_bytes()) for u in uploads] == [("a.wav", 4, b"AAAA"), ("b.mp3", 2, b"BB")]


def test_an_oversized_part_stops_reading_the_body(tmp_path):
    chunks = [part("files", "big.wav")] + [b"x" * 1000] * 50
    consumed: list[int] = []
    with pytest.raises(UploadTooLarge, match="big.wav is larger than the upload limit of 2.9 KiB per file"):
        asyncio.run(receive_files(request_of(chunks, consumed), tmp_path, per_file(3000)))
    assert len(consumed) == 5


def test_names_and_sizes_for_messages():
    assert safe_filename(b"") == "upload" and safe_filename(b"dir/sub/x.wav") == "x.wav"
    assert (human_bytes(512), human_bytes(2048), human_bytes(2 * 1024**3)) == ("512 bytes", "2 KiB", "2 GiB")
