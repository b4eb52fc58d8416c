"""A real department system for the tests: an HTTP server in a thread that records the posts."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fpcredit.notify.webhooks import MESSAGE_ID_HEADER, SIGNATURE_HEADER, verify


@dataclass
class Receiver:
    """Answers `status` (500 while failing), or stalls `stall_s` first; keeps what it accepted."""

    secret: str = ""
    status: int = 200
    stall_s: float = 0.0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    posts: int = 0
    bad_signatures: int = 0
    stalled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: Any, body: bytes) -> int:
        with self.lock:
            self.posts += 1
            status, stall = self.status, self.stall_s
        if stall:
            self.stalled.set()
            time.sleep(stall)
            return 503
        if not verify(self.secret, headers.get(SIGNATURE_HEADER, ""), body):
            with self.lock:
                self.bad_signatures += 1
            return 401
        if status // 100 == 2:
            document = json.loads(body)
            assert document["message_id"] == headers.get(MESSAGE_ID_HEADER)
            with self.lock:
                self.accepted.append(document)
        return status

    def unique(self) -> set[str]:
        """The message ids accepted, de-duplicated as a receiver does."""
        with self.lock:
            return {d["message_id"] for d in self.accepted}


class Server:
    """`Receiver` behind a ThreadingHTTPServer on 127.0.0.1 (port chosen by the system)."""

    def __init__(self, receiver: Receiver, port: int = 0) -> None:
        outer = receiver

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                code = outer.handle(self.headers, body)
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the worker hung up (killed, or timed out)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
