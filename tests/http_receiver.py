"""A real HTTP receiver on 127.0.0.1 for webhook tests: records each POST and answers scripted statuses."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    statuses: Sequence[int]
    delay_s: float = 0.0
    requests: list[dict] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/secret-token"

    @property
    def bodies(self) -> list:
        return [r["body"] for r in self.requests]


@contextmanager
def receiver(statuses: Sequence[int] = (200,), delay_s: float = 0.0) -> Iterator[Receiver]:
    """The n-th request gets statuses[n] (the last one repeats); port 0 lets the OS pick a free port."""
    rec = Receiver(statuses=list(statuses), delay_s=delay_s)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                n = len(rec.requests)
                rec.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(raw) if raw else None}
                )
            time.sleep(rec.delay_s)
            status = rec.statuses[min(n, len(rec.statuses) - 1)]
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
