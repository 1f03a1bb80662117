"""A real HTTP server on localhost standing in for the justice system and the referral desk."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class HttpSink:
    server: ThreadingHTTPServer
    received: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def at(self, path: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.received if d.path == path]

    def wait_for(self, path: str, count: int, *, timeout_s: float = 30.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.at(path)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.at(path))} deliveries, expected {count}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_sink() -> HttpSink:
    sink: HttpSink

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            with sink.lock:
                sink.received.append(Delivery(self.path, dict(self.headers.items()), body))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink = HttpSink(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return sink
