"""12. A signed webhook whose MediaUrl0 points at a private or metadata address: never fetched.

A real listener on loopback stands in for an internal service: whatever the URL says (a Twilio
host name that resolves inside, an IP literal, a redirect target), it must receive nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from conversations.models import Attachment, Message
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, post_signed, sms_payload, with_media

pytestmark = pytest.mark.django_db


@pytest.fixture
def internal_service() -> Iterator[list[str]]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.end_headers()
            self.wfile.write(b"secret")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hits.append(f"port:{server.server_address[1]}")
    try:
        yield hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def twilio(settings: Any) -> None:
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL


@pytest.mark.parametrize(
    ("template", "media_hosts"),
    [
        ("http://127.0.0.1:{port}/Media/ME1", None),
        ("http://localhost:{port}/Media/ME1", None),
        ("http://2130706433:{port}/Media/ME1", None),  # 127.0.0.1 as a decimal integer
        ("http://127.0.0.1:{port}/Media/ME1", ["127.0.0.1"]),  # even if someone allowed it as a media host
        ("http://localhost:{port}/Media/ME1", ["localhost"]),
        ("http://169.254.169.254/latest/meta-data/iam/", ["169.254.169.254"]),  # cloud metadata
        ("http://[::1]:{port}/Media/ME1", ["[::1]", "::1"]),
    ],
)
def test_media_urls_pointing_inside_are_never_fetched(
    client: Client, sms_inbox: Any, settings: Any, internal_service: list[str], template: str, media_hosts: Any
) -> None:
    port = internal_service[0].split(":")[1]
    if media_hosts is not None:
        settings.TWILIO_MEDIA_HOSTS = media_hosts
    payload = with_media(sms_payload(body="photo"), (template.format(port=port), "image/jpeg"))

    response = post_signed(client, f"/channels/twilio/{sms_inbox.webhook_token}/messages/", payload)

    assert response.status_code == 200
    assert internal_service[1:] == []  # nothing reached the internal service
    assert not Attachment.objects.exists()
    assert Message.objects.get().metadata["twilio"]["media"][0]["error"]
