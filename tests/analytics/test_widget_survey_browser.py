"""The web chat widget's inline satisfaction survey, in Chromium, on a customer's site of another origin.

The agent resolves the conversation from this process; the survey task runs on commit, its
question reaches the widget over the real socket (Redis channel layer), and the visitor answers
it in the widget. Uses the live-server setup of the widget's own browser test.
"""

from __future__ import annotations

from typing import Any

import pytest

from analytics.models import CSATResponse
from conversations import services
from conversations.models import Conversation, Message, Status
from tests import factories as f
from tests.channels_app.test_webchat_browser import (  # noqa: F401 - fixtures used by name
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    WAIT_MS,
    customer_site,
    in_thread,
    live_server_url,
    redis_layer,
    sync_playwright,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_visitor_rates_the_conversation_inline_after_it_is_resolved(
    sync_playwright: Any,  # noqa: F811
    live_server_url: str,  # noqa: F811
    agent: Any,
    team: Any,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    token = "widget-survey-browser-inbox"
    snippet = f'<script src="{live_server_url}/static/webchat/widget.js" data-inbox="{token}" async></script>'
    with customer_site(snippet) as site:
        f.InboxFactory(
            name="Acme chat",
            kind="webchat",
            webhook_token=token,
            members=[agent],
            default_team=team,
            assistant_enabled=False,
            config={"allowed_origins": [site]},
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(viewport={"width": 900, "height": 760}).new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(f"{site}/")
                widget = page.locator("inbox-chat-widget")
                widget.locator(".launcher").click(timeout=WAIT_MS)
                widget.locator("textarea").fill("My reader will not charge")
                widget.locator("textarea").press("Enter")
                message = wait_for(
                    "the visitor's message",
                    lambda: in_thread(lambda: Message.objects.filter(direction="in").first()),
                )
                conversation = in_thread(lambda: Conversation.objects.get(pk=message.conversation_id))
                page.wait_for_function(
                    "() => document.querySelector('inbox-chat-widget').getAttribute('data-live') === 'yes'",
                    timeout=WAIT_MS,
                )
                in_thread(services.message_send_reply, conversation=conversation, author=agent, body="Try a new cable.")
                widget.locator(".msg.out", has_text="Try a new cable.").wait_for(timeout=WAIT_MS)
                # Resolving commits; the survey is asked after commit and arrives over the socket.
                in_thread(
                    services.conversation_set_status, conversation=conversation, status=Status.RESOLVED, actor=agent
                )
                survey_card = widget.locator(".survey")
                survey_card.wait_for(timeout=WAIT_MS)
                survey_card.locator("button", has_text="4").click()
                survey_card.locator("textarea").fill("Quick help, thanks")
                page.screenshot(path=str(ARTIFACTS / "webchat-survey.png"))
                survey_card.locator(".send").click()
                widget.locator(".survey", has_text="Thank you for your rating!").wait_for(timeout=WAIT_MS)
                survey = in_thread(lambda: CSATResponse.objects.get(conversation_id=conversation.pk))
                assert (survey.rating, survey.comment, survey.agent_id) == (4, "Quick help, thanks", agent.pk)
                # A reload does not ask again: the survey is answered.
                page.reload()  # the window stays open across page loads
                widget.locator(".msg.out", has_text="Try a new cable.").wait_for(timeout=WAIT_MS)
                page.wait_for_timeout(500)
                assert widget.locator(".survey").count() == 0
                assert errors == []
            finally:
                browser.close()
