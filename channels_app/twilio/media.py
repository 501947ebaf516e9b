"""Downloading a message's media (or a voicemail's audio) from Twilio, and from nowhere else.

The URLs arrive in a webhook, so they are untrusted: only https on one of TWILIO_MEDIA_HOSTS
(exact host, default port, resolving to public addresses), or the configured
TWILIO_API_BASE_URL's own origin, is fetched; redirects are followed only to those; the
account's credentials go only to the host they were first sent to; the size and the total
time are bounded. Callers download before they open a transaction.
"""

from __future__ import annotations

import ipaddress
import logging
import mimetypes
import socket
import time
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

from conversations.services import InboundAttachment

logger = logging.getLogger(__name__)

# The webhook waits for the download: keep it short (Twilio gives up on a webhook after 15 s).
MEDIA_TIMEOUT_SECONDS = 5.0
MAX_REDIRECTS = 3
_CHUNK = 64 * 1024

Origin = tuple[str, str, int]


class MediaUnavailable(Exception):
    """The media was refused or could not be fetched; ``reason`` says which and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _origin(url: str) -> Origin:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise MediaUnavailable("not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MediaUnavailable("not an http(s) URL")
    if parts.username or parts.password:
        raise MediaUnavailable("credentials in the URL")
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def _configured_api_origin() -> Origin | None:
    if not settings.TWILIO_API_BASE_URL:
        return None
    return _origin(settings.TWILIO_API_BASE_URL)


def _check_public(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        raise MediaUnavailable(f"cannot resolve {host}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            raise MediaUnavailable(f"{host} resolves to the non-public address {address}")


def check_url(url: str) -> Origin:
    """The URL's origin if it may be fetched; MediaUnavailable otherwise."""
    origin = _origin(url)
    if origin == _configured_api_origin():
        return origin  # the operator's own choice (a local fake in tests, a relay in production)
    scheme, host, port = origin
    if scheme != "https" or port != 443:
        raise MediaUnavailable("media is only fetched over https")
    if host not in {allowed.strip().lower() for allowed in settings.TWILIO_MEDIA_HOSTS}:
        raise MediaUnavailable(f"{host} is not one of Twilio's media hosts")
    _check_public(host, port)
    return origin


def _filename(url: str, content_type: str, default_stem: str) -> str:
    stem = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or default_stem
    extension = mimetypes.guess_extension(content_type) or ""
    return stem if stem.endswith(extension) else f"{stem}{extension}"


def download(url: str, *, content_type: str = "", default_stem: str = "media") -> InboundAttachment:
    """Fetch one media file from Twilio as an attachment; MediaUnavailable says why not."""
    limit = settings.MAX_ATTACHMENT_BYTES
    deadline = time.monotonic() + MEDIA_TIMEOUT_SECONDS
    credentials = (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
    first_origin = check_url(url)
    current = url
    with requests.Session() as session:
        session.trust_env = False  # no proxy or .netrc from the environment decides where this goes
        for _hop in range(MAX_REDIRECTS + 1):
            origin = check_url(current)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MediaUnavailable("timed out")
            try:
                response = session.get(
                    current,
                    auth=credentials if origin == first_origin and all(credentials) else None,
                    stream=True,
                    allow_redirects=False,
                    timeout=(remaining, remaining),
                )
            except requests.RequestException as exc:
                raise MediaUnavailable(f"download failed: {type(exc).__name__}") from None
            with response:
                if response.is_redirect:
                    location = response.headers.get("Location", "")
                    current = urljoin(current, location)
                    continue
                if response.status_code != 200:
                    raise MediaUnavailable(f"Twilio answered HTTP {response.status_code}")
                declared = response.headers.get("Content-Length", "")
                if declared.isascii() and declared.isdigit() and int(declared) > limit:
                    raise MediaUnavailable(f"larger than {limit} bytes")
                content = bytearray()
                try:
                    for chunk in response.iter_content(_CHUNK):
                        content += chunk
                        if len(content) > limit:
                            raise MediaUnavailable(f"larger than {limit} bytes")
                        if time.monotonic() > deadline:
                            raise MediaUnavailable("timed out")
                except requests.RequestException as exc:
                    raise MediaUnavailable(f"download failed: {type(exc).__name__}") from None
                kind = (content_type or response.headers.get("Content-Type", "")).split(";")[0].strip()
                kind = kind or "application/octet-stream"
                return InboundAttachment(
                    filename=_filename(url, kind, default_stem), content_type=kind, content=bytes(content)
                )
        raise MediaUnavailable("too many redirects")


def download_or_log(url: str, *, content_type: str = "", default_stem: str = "media") -> InboundAttachment | str:
    """The attachment, or the reason it was not stored (already logged)."""
    try:
        return download(url, content_type=content_type, default_stem=default_stem)
    except MediaUnavailable as exc:
        logger.warning("Twilio media not stored from %s: %s", url, exc.reason)
        return exc.reason
