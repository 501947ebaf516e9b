"""A local stand-in for the parts of Twilio we use, and webhooks signed the way Twilio signs them.

``FakeTwilio`` is an ``http.server`` on 127.0.0.1 in a thread: it creates messages
(``POST /2010-04-01/Accounts/<sid>/Messages.json``) with a realistic JSON answer, can be told
to fail the next sends (a 400 with a Twilio error code, a 429, a 500/503), serves media files
behind the account's basic auth (and redirects), and records every request it received.

The payload builders reproduce the form fields Twilio really posts to our webhooks.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "a1b2c3d4" * 4
AUTH_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"  # a test-only token
PUBLIC_BASE_URL = "https://inbox.example.com"


def twilio_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclasses.dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]
    auth: tuple[str, str] | None

    def param(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclasses.dataclass
class _Media:
    content: bytes
    content_type: str
    redirect_to: str | None = None


class FakeTwilio:
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[RecordedRequest] = []
        self.failures: list[tuple[int, dict[str, Any]]] = []
        self.media: dict[str, _Media] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- what tests set up and read -----------------------------------------------------------

    def fail_next(self, status: int, *, code: int | None = None, message: str = "") -> None:
        """The next message create answers ``status`` with Twilio's error body."""
        body = {
            "code": code or status,
            "message": message or "Service unavailable",
            "more_info": f"https://www.twilio.com/docs/errors/{code or status}",
            "status": status,
        }
        self.failures.append((status, body))

    def add_media(self, path: str, content: bytes, content_type: str) -> str:
        self.media[path] = _Media(content, content_type)
        return self.base_url + path

    def add_redirect(self, path: str, location: str) -> str:
        self.media[path] = _Media(b"", "", redirect_to=location)
        return self.base_url + path

    def media_url(self, message_sid: str | None = None, media_sid: str | None = None) -> str:
        message_sid = message_sid or twilio_sid("MM")
        media_sid = media_sid or twilio_sid("ME")
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid}/Media/{media_sid}"

    @property
    def sent_messages(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/Messages.json")]

    # --- the server ---------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode() if length else ""
        auth = None
        header = handler.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            auth = (user, password)
        path = urlsplit(handler.path).path
        recorded = RecordedRequest(handler.command, path, dict(handler.headers.items()), parse_qs(raw), auth)
        with self._lock:
            self.requests.append(recorded)
        if auth != (self.account_sid, self.auth_token):
            self._json(handler, 401, {"code": 20003, "message": "Authenticate", "status": 401})
            return
        if handler.command == "POST" and path == f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            with self._lock:
                failure = self.failures.pop(0) if self.failures else None
            if failure is not None:
                self._json(handler, *failure)
            else:
                self._json(handler, 201, self._message_created(recorded))
            return
        item = self.media.get(path)
        if handler.command == "GET" and item is not None:
            if item.redirect_to is not None:
                handler.send_response(307)
                handler.send_header("Location", item.redirect_to)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            handler.send_response(200)
            handler.send_header("Content-Type", item.content_type)
            handler.send_header("Content-Length", str(len(item.content)))
            handler.end_headers()
            handler.wfile.write(item.content)
            return
        self._json(handler, 404, {"code": 20404, "message": "The requested resource was not found", "status": 404})

    def _message_created(self, request: RecordedRequest) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC))
        sid = twilio_sid("SM") if request.param("ContentSid") is None else twilio_sid("MM")
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": request.param("Body") or "",
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": request.param("From"),
            "messaging_service_sid": request.param("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if request.param("MessagingServiceSid") is None else "accepted",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": request.param("To"),
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    @staticmethod
    def _json(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@contextmanager
def running_fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    try:
        yield fake
    finally:
        fake.stop()


# --- Webhooks as Twilio posts them ------------------------------------------------------------


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def post_signed(
    client: Any,
    path: str,
    params: dict[str, str],
    *,
    signed_url: str | None = None,
    token: str = AUTH_TOKEN,
    **extra: Any,
) -> Any:
    """POST ``params`` to ``path`` with the X-Twilio-Signature Twilio computes for ``signed_url``.

    What the request promised for after its commit (an accepted message's storing, eager in the
    tests) runs before this returns, also inside a test's transaction, where nothing commits.
    """
    from django.test import TestCase

    url = signed_url if signed_url is not None else PUBLIC_BASE_URL + path
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=sign(url, params, token), **extra)


def sms_payload(
    *, sender: str = "+14155550100", to: str = "+15005550006", body: str = "Hi, my order is late"
) -> dict[str, str]:
    sid = twilio_sid("SM")
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "SAN FRANCISCO",
        "FromZip": "94105",
        "SmsSid": sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "SAN FRANCISCO",
        "Body": body,
        "FromCountry": "US",
        "To": to,
        "MessagingServiceSid": "MG" + "9" * 32,
        "ToZip": "94105",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }


def with_media(payload: dict[str, str], *media: tuple[str, str]) -> dict[str, str]:
    """``media`` is (url, content type) pairs; an MMS's MessageSid starts with MM."""
    sid = twilio_sid("MM")
    payload = {**payload, "MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "NumMedia": str(len(media))}
    for index, (url, content_type) in enumerate(media):
        payload[f"MediaUrl{index}"] = url
        payload[f"MediaContentType{index}"] = content_type
    return payload


def whatsapp_payload(
    *, sender: str = "+14155550100", to: str = "+15005550007", body: str = "Hello from WhatsApp", name: str = "Carol"
) -> dict[str, str]:
    sid = twilio_sid("SM")
    return {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": name,
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": sender.lstrip("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": f"whatsapp:{to}",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{sender}",
        "ApiVersion": "2010-04-01",
        "ChannelMetadata": json.dumps({"type": "whatsapp", "data": {"context": {"ProfileName": name}}}),
    }


def status_payload(
    message_sid: str, status: str, *, to: str = "+14155550100", sender: str = "+15005550006", error_code: str = ""
) -> dict[str, str]:
    payload = {
        "SmsSid": message_sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": to,
        "MessageSid": message_sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        payload["ErrorCode"] = error_code
    return payload


def voice_payload(*, caller: str = "+14155550100", called: str = "+15005550008", call_sid: str = "") -> dict[str, str]:
    return {
        "Called": called,
        "ToState": "CA",
        "CallerCountry": "US",
        "Direction": "inbound",
        "CallerState": "CA",
        "ToZip": "94105",
        "CallSid": call_sid or twilio_sid("CA"),
        "To": called,
        "CallerZip": "94105",
        "ToCountry": "US",
        "CallToken": "%7B%22parentCallInfoToken%22%3A%22eyJhbGciOiJFUzI1NiJ9%22%7D",
        "CalledZip": "94105",
        "ApiVersion": "2010-04-01",
        "CalledCity": "SAN FRANCISCO",
        "CallStatus": "ringing",
        "From": caller,
        "AccountSid": ACCOUNT_SID,
        "CalledCountry": "US",
        "CallerCity": "SAN FRANCISCO",
        "ToCity": "SAN FRANCISCO",
        "FromCountry": "US",
        "Caller": caller,
        "FromCity": "SAN FRANCISCO",
        "CalledState": "CA",
        "FromZip": "94105",
        "FromState": "CA",
    }


def recording_payload(
    *, call_sid: str, recording_url: str, recording_sid: str = "", duration: int = 42, status: str = "completed"
) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid,
        "RecordingSid": recording_sid or twilio_sid("RE"),
        "RecordingUrl": recording_url,
        "RecordingStatus": status,
        "RecordingDuration": str(duration),
        "RecordingChannels": "1",
        "RecordingStartTime": format_datetime(datetime.now(UTC)),
        "RecordingSource": "RecordVerb",
        "RecordingTrack": "both",
        "ErrorCode": "0",
    }


def transcription_payload(
    *, call_sid: str, recording_sid: str, text: str, caller: str = "+14155550100", called: str = "+15005550008"
) -> dict[str, str]:
    transcription_sid = twilio_sid("TR")
    return {
        "TranscriptionType": "fast",
        "TranscriptionUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Transcriptions/{transcription_sid}",
        "TranscriptionSid": transcription_sid,
        "Called": called,
        "RecordingSid": recording_sid,
        "CallStatus": "completed",
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}",
        "From": caller,
        "Direction": "inbound",
        "url": "https://inbox.example.com/channels/twilio/x/voice/transcription/",
        "AccountSid": ACCOUNT_SID,
        "TranscriptionText": text,
        "Caller": caller,
        "TranscriptionStatus": "completed",
        "CallSid": call_sid,
        "To": called,
        "ForwardedFrom": "",
        "ApiVersion": "2010-04-01",
    }
