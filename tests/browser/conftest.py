"""Browser fixtures for the agent inbox: the same live daphne server and Chromium as the widget's tests."""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from tests.channels_app.test_webchat_browser import (  # noqa: F401  (fixtures, re-exported for this directory)
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    WAIT_MS,
    in_thread,
    live_server_url,
    redis_layer,
    sync_playwright,
    wait_for,
)
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, running_fake_twilio, sign, sms_payload

PASSWORD = "pw-correct-horse-42"  # tests.factories.UserFactory's
# Page loads on a busy machine (the first request imports the URLconf) get longer than other waits.
LOAD_MS = 60_000


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """The server process is forked from this one: it must not inherit cached login failures or viewers."""
    cache.clear()


@pytest.fixture
def twilio(settings: Any) -> Iterator[Any]:
    """Twilio as the server sees it: our test credentials, and the local fake API for outbound sends.

    Set before the server process starts (it is forked with these settings).
    """
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    with running_fake_twilio() as fake:
        settings.TWILIO_API_BASE_URL = fake.base_url
        yield fake


def post_signed_sms(server: str, inbox: Any, *, sender: str, body: str) -> int:
    """POST an inbound SMS to the live server's webhook, signed as Twilio signs it."""
    path = f"/channels/twilio/{inbox.webhook_token}/messages/"
    params = sms_payload(sender=sender, body=body)
    request = urllib.request.Request(
        server + path,
        data=urllib.parse.urlencode(params).encode(),
        headers={"X-Twilio-Signature": sign(PUBLIC_BASE_URL + path, params)},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return int(response.status)


def sign_in(page: Any, server: str, username: str) -> None:
    page.goto(f"{server}/inbox/", timeout=LOAD_MS)
    page.wait_for_url("**/login/**", timeout=LOAD_MS)
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    try:
        page.wait_for_url("**/inbox/**", timeout=LOAD_MS)
    except Exception:
        problem = page.locator(".form-error").all_inner_texts()
        raise AssertionError(f"sign-in as {username} failed: {problem or page.url}") from None
    page.wait_for_selector("body[data-connection=live]", timeout=LOAD_MS)


def open_browser(playwright: Any) -> Any:
    ARTIFACTS.mkdir(exist_ok=True)
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def watch_errors(page: Any) -> list[str]:
    """Uncaught page errors and CSP violations (logged to the console) end up in the returned list."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    return errors
