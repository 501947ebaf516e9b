"""Signing and sending of what we post to integrators: outbound webhooks and API-channel replies.

Every request is signed the same way: HMAC-SHA256 with the receiver's secret over
``f"{timestamp}.{body}"``, sent as ``X-Inbox-Signature: t=<timestamp>,v1=<hex>``. The
receiver recomputes it over the raw body it got and rejects old timestamps, so a captured
request cannot be replayed later.

Sending never follows redirects, gives up after a timeout, and (unless
``WEBHOOK_ALLOW_PRIVATE_DESTINATIONS``) refuses addresses that are not public: the
address checked is the one connected to, so a DNS answer cannot swap in an internal host
between the check and the connection. Nothing here touches the database: callers send
outside any transaction and record the outcome afterwards.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

SIGNATURE_HEADER = "X-Inbox-Signature"
EVENT_HEADER = "X-Inbox-Event"
DELIVERY_HEADER = "X-Inbox-Delivery"
TIMESTAMP_HEADER = "X-Inbox-Timestamp"
USER_AGENT = "UnifiedInbox-Webhooks/1.0"

DEFAULT_TIMEOUT_SECONDS = 10.0
# Receivers should reject signatures older than this (what verify_signature does by default).
DEFAULT_TOLERANCE_SECONDS = 300
# Enough of a failing receiver's answer to say what went wrong, never a whole page.
ERROR_BODY_BYTES = 500

Verdict = Literal["delivered", "retry", "permanent"]


class DestinationNotAllowed(Exception):
    """The URL resolves to an address this installation may not post to."""


# --- Signing ------------------------------------------------------------------------------------


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify_signature(
    *,
    secret: str,
    header: str,
    body: bytes,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does: the signature matches the body and the timestamp is recent."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def signed_headers(*, secret: str, event_type: str, event_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event_type,
        DELIVERY_HEADER: event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(secret, timestamp, body),
    }


# --- Sending ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PostOutcome:
    """What happened to one POST: the receiver's status (if it answered) and whether to try again."""

    verdict: Verdict
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.verdict == "delivered"


def verdict_for_status(status_code: int) -> Verdict:
    if 200 <= status_code < 300:
        return "delivered"
    if status_code in (408, 429) or status_code >= 500:
        return "retry"
    # Other 4xx: the receiver rejected this request and will reject it again. 3xx: we do not
    # follow redirects (they could lead anywhere), so the URL must be corrected.
    return "permanent"


def private_destinations_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_DESTINATIONS", True))


def timeout_seconds() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _guarded_socket(host: str, port: int, timeout: float, *, allow_private: bool) -> socket.socket:
    """Connect to ``host``, refusing non-public addresses unless allowed; checks what is connected to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    if not allow_private:
        refused = [info[4][0] for info in infos if not _is_public(str(info[4][0]))]
        if refused:
            raise DestinationNotAllowed(f"{host} resolves to a non-public address ({refused[0]}).")
    last_error: OSError | None = None
    for family, socktype, proto, _canonname, sockaddr in infos:
        sock = socket.socket(family, socktype, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise last_error or OSError(f"cannot connect to {host}")


class _GuardedHTTPConnection(http.client.HTTPConnection):
    allow_private = False

    def connect(self) -> None:
        self.sock = _guarded_socket(self.host, self.port, float(self.timeout or 10), allow_private=self.allow_private)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    allow_private = False
    tls_context: ssl.SSLContext = ssl.create_default_context()

    def connect(self) -> None:
        raw = _guarded_socket(self.host, self.port, float(self.timeout or 10), allow_private=self.allow_private)
        self.sock = self.tls_context.wrap_socket(raw, server_hostname=self.host)


def _describe_answer(response: http.client.HTTPResponse) -> str:
    status = f"HTTP {response.status} {response.reason}".strip()
    if 300 <= response.status < 400:
        return f"{status}: redirected to {response.getheader('Location', '?')}; redirects are not followed"
    snippet = response.read(ERROR_BODY_BYTES).decode("utf-8", "replace").strip()
    return f"{status}: {snippet}" if snippet else status


def post(url: str, *, body: bytes, headers: Mapping[str, str], timeout: float | None = None) -> PostOutcome:
    """POST ``body`` to ``url`` once; never raises for what the network or the receiver does."""
    started = time.monotonic()

    def outcome(verdict: Verdict, error: str = "", status_code: int | None = None) -> PostOutcome:
        return PostOutcome(verdict, status_code, error[:2000], int((time.monotonic() - started) * 1000))

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return outcome("permanent", f"{url!r} is not an http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return outcome("permanent", f"{url!r} has an invalid port")
    connection_class = _GuardedHTTPSConnection if parts.scheme == "https" else _GuardedHTTPConnection
    connection = connection_class(parts.hostname, port, timeout=timeout or timeout_seconds())
    connection.allow_private = private_destinations_allowed()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=dict(headers))
        response = connection.getresponse()
        verdict = verdict_for_status(response.status)
        error = "" if verdict == "delivered" else _describe_answer(response)
        return outcome(verdict, error, response.status)
    except DestinationNotAllowed as exc:
        return outcome("permanent", str(exc))
    except TimeoutError:
        return outcome("retry", f"no answer within {connection.timeout:g} s")
    except (OSError, http.client.HTTPException) as exc:
        return outcome("retry", f"{type(exc).__name__}: {exc}".rstrip(": "))
    finally:
        connection.close()


def post_signed(
    url: str,
    *,
    secret: str,
    event_type: str,
    event_id: str,
    payload: Mapping[str, Any],
    timestamp: int | None = None,
) -> PostOutcome:
    body = encode_body(payload)
    headers = signed_headers(
        secret=secret,
        event_type=event_type,
        event_id=event_id,
        body=body,
        timestamp=int(time.time()) if timestamp is None else timestamp,
    )
    return post(url, body=body, headers=headers)
