"""A real HTTP server on 127.0.0.1 for tests: the base of img2img's fake services.

    def handler(request: RecordedRequest) -> Reply:
        return Reply.json({"ok": True})

    with LoopbackServer(handler) as server:
        httpx.get(server.url + "/anything")
        assert server.requests[0].path == "/anything"

Each request runs on its own thread; the handler may sleep to act slow.
A ``Reply`` with ``chunks`` streams its body piece by piece (``chunk_delay``
seconds apart), for clients that must stop reading a body that is too big or
too slow.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from img2img.closing import Closing

__all__ = ["LoopbackServer", "RecordedRequest", "Reply", "form_fields"]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: When set, the body is sent as these pieces instead of ``body``, without a Content-Length.
    chunks: Iterable[bytes] | None = None
    chunk_delay: float = 0.0

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Reply:
        return cls(
            status=status,
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )


def form_fields(request: RecordedRequest) -> dict[str, bytes]:
    """The fields of a ``multipart/form-data`` body, by name (files and plain fields alike)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return {}
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    )
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = payload
    return parts


Handler = Callable[[RecordedRequest], Reply]


class LoopbackServer(Closing):
    """Serves ``handler`` on ``http://127.0.0.1:<free port>`` until closed; records every request.

    ``host`` binds another loopback address instead (Linux answers on all of
    ``127.0.0.0/8``), so a test can allow only this server and prove that
    ``127.0.0.1`` stays refused.
    """

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1") -> None:
        self.handler = handler
        self.host = host
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        server = self

        class _RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle on, each
            # keep-alive reply waits ~40 ms for the client's delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                """Silence the per-request log lines."""

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with server._lock:
                    server.requests.append(request)
                try:
                    reply = server.handler(request)
                except Exception as exc:  # surface handler bugs as a 500, not a hang
                    reply = Reply.json(
                        {"error": f"test server handler failed: {exc!r}"}, status=500
                    )
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunks is None:
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        try:
                            self.wfile.write(reply.body)
                        except (BrokenPipeError, ConnectionResetError):
                            self.close_connection = True  # the client stopped reading early
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    for chunk in reply.chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        if reply.chunk_delay:
                            time.sleep(reply.chunk_delay)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up reading, as it should for hostile bodies

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        self._httpd = ThreadingHTTPServer((host, 0), _RequestHandler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # close() waits up to one poll interval
            name="loopback-http",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
