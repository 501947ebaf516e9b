"""A local stand-in for the Anthropic Messages API (``POST /v1/messages``), driven by the real SDK.

``FakeAnthropic`` is an ``http.server`` on 127.0.0.1:0 in a thread. Queue what it answers
next with :meth:`reply` (a completion with realistic JSON: id, type, role, content, model,
stop_reason, usage), :meth:`fail` (an HTTP error with Anthropic's error body, e.g. 529
``overloaded_error`` or 429 ``rate_limit_error``) or :meth:`stall` (answer after a delay, to
make the client time out). With nothing queued it answers with ``default_text``. Every
request it received is recorded with its parsed JSON body.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclasses.dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def user_text(self) -> str:
        content = self.body["messages"][-1]["content"]
        if isinstance(content, str):
            return content
        return "".join(block.get("text", "") for block in content)


@dataclasses.dataclass
class _Planned:
    status: int = 200
    body: dict[str, Any] | None = None
    text: str = ""
    delay: float = 0.0
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    stop_reason: str = "end_turn"


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def completion_json(
    action: str = "reply",
    reply: str = "",
    confidence: float = 0.9,
    handoff_reason: str = "",
    topic: str = "general",
    urgency: str = "normal",
) -> str:
    """The JSON object our system prompt asks Claude for."""
    return json.dumps(
        {
            "action": action,
            "reply": reply,
            "confidence": confidence,
            "handoff_reason": handoff_reason,
            "topic": topic,
            "urgency": urgency,
        }
    )


class FakeAnthropic:
    def __init__(self, default_text: str | None = None) -> None:
        self.default_text = default_text or completion_json(reply="Happy to help.", confidence=0.9)
        self.requests: list[RecordedRequest] = []
        self._plan: list[_Planned] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what to answer -----------------------------------------------------------------------

    def reply(self, text: str, *, stop_reason: str = "end_turn", times: int = 1) -> None:
        with self._lock:
            self._plan.extend(_Planned(text=text, stop_reason=stop_reason) for _ in range(times))

    def fail(self, status: int, message: str = "", *, times: int = 1, headers: dict[str, str] | None = None) -> None:
        error_type = _ERROR_TYPES.get(status, "api_error")
        body = {
            "type": "error",
            "error": {"type": error_type, "message": message or error_type.replace("_", " ").capitalize()},
            "request_id": "req_" + secrets.token_hex(12),
        }
        # Short retry-after so the SDK's retries do not slow the tests down.
        merged = {"retry-after-ms": "20", **(headers or {})}
        with self._lock:
            self._plan.extend(_Planned(status=status, body=body, headers=merged) for _ in range(times))

    def stall(self, seconds: float, text: str | None = None) -> None:
        """Answer the next request only after ``seconds`` (the client gives up first)."""
        with self._lock:
            self._plan.append(_Planned(text=text or self.default_text, delay=seconds))

    @property
    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith("/v1/messages")]

    # --- serving ------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        with self._lock:
            headers = {k.lower(): v for k, v in handler.headers.items()}
            self.requests.append(RecordedRequest(path=handler.path, headers=headers, body=body))
            planned = self._plan.pop(0) if self._plan else _Planned(text=self.default_text)
        if handler.path.split("?")[0] != "/v1/messages":
            planned = _Planned(status=404, body={"type": "error", "error": {"type": "not_found_error", "message": "?"}})
        if planned.delay:
            time.sleep(planned.delay)
        if planned.body is not None:
            payload = planned.body
        else:
            payload = {
                "id": "msg_" + secrets.token_hex(12),
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": planned.text}],
                "model": body.get("model", "claude-sonnet-4-5"),
                "stop_reason": planned.stop_reason,
                "stop_sequence": None,
                "usage": {"input_tokens": 812, "output_tokens": 64},
            }
        data = json.dumps(payload).encode()
        try:
            handler.send_response(planned.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("request-id", "req_" + secrets.token_hex(12))
            for name, value in planned.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout): nothing to answer


@contextmanager
def fake_anthropic(default_text: str | None = None) -> Iterator[FakeAnthropic]:
    server = FakeAnthropic(default_text).start()
    try:
        yield server
    finally:
        server.stop()
