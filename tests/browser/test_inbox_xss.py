"""Reliability item 14 in the agent inbox: hostile text anywhere a customer, contact or model can put it stays
inert in a real browser, under the page's Content-Security-Policy (see tests/security/test_xss.py for the back
office, the API and the widget)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, WAIT_MS, open_browser, sign_in, watch_errors
from tests.security.test_xss import MARK, hostile  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow


def test_hostile_text_is_inert_in_the_agent_inbox(
    sync_playwright: Any,
    live_server_url: str,
    supervisor: Any,
    hostile: dict[str, Any],  # noqa: F811
) -> None:
    conversation = hostile["conversation"]
    with sync_playwright() as playwright:
        browser = open_browser(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = watch_errors(page)
        dialogs: list[str] = []

        def on_dialog(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        sign_in(page, live_server_url, supervisor.username)

        response = page.goto(f"{live_server_url}/inbox/c/{conversation.pk}/")
        assert response is not None
        policy = response.headers["content-security-policy"]
        script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script_src

        # The list row (contact name, preview), the thread (bodies, subject, the assistant's reply, the
        # attachment's name), the tags and the profile all show the hostile strings as text.
        page.locator(".conversation-row", has_text="<script>").first.wait_for(timeout=WAIT_MS)
        page.locator("#messages .message.from-assistant", has_text="<svg onload=").wait_for(timeout=WAIT_MS)
        page.locator("#messages", has_text="Attachment: <img src=x").wait_for(timeout=WAIT_MS)
        page.locator("#profile-panel h2", has_text="<script>").wait_for(timeout=WAIT_MS)
        assert page.locator("#messages script, #messages img, #messages svg, #messages iframe").count() == 0
        assert page.locator(".conversation-row script, .conversation-row img, #profile-panel script").count() == 0

        # The canned responses picker (title and body are hostile too).
        composer = page.locator("#composer-text")
        composer.click()
        composer.press("/")
        picker = page.locator("#canned-picker li", has_text="<script>")
        picker.first.wait_for(timeout=WAIT_MS)
        assert page.locator("#canned-picker script, #canned-picker img").count() == 0
        page.screenshot(path=str(ARTIFACTS / "inbox-xss.png"))
        picker.first.click()  # the body is inserted into the composer as text
        page.wait_for_function("() => document.querySelector('#composer-text').value.includes('<script>')")

        assert page.evaluate(f"typeof window.{MARK}") == "undefined", "a payload ran in the inbox"
        assert dialogs == []
        browser.close()
    assert errors == []
