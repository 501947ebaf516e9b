"""The widget in a real browser, on a customer's website served from another origin.

How it runs: a daphne server in a child process (``daphne.testing.DaphneProcess``, the one
behind ``channels.testing.ChannelsLiveServerTestCase``) serves the product against this test
run's PostgreSQL database; a tiny ``http.server`` on another port serves the customer's page
with the snippet; Chromium (through Playwright) opens that page. The agent's reply is made
here, in the test process, with ``services.message_send_reply`` on the same database, and
reaches the server's sockets the way it does in production: through the Redis channel layer,
which both processes use. So nothing is mocked between the agent's service call and the text
appearing in the widget.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from conversations import services
from conversations.models import Conversation, Message
from conversations.realtime import send_event_on_commit, visitor_group
from tests import factories as f
from tests.core.test_run_modes import free_port
from tests.servers import daphne_serving

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") in ("1", "true", "yes")
WAIT_MS = 15_000

# A customer's page whose CSS tries hard to break anything added to it.
HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>
<style>
  * {{ font-family: "Comic Sans MS", cursive !important; color: #f0f !important; }}
  button, div, span, textarea {{ background: yellow !important; border: 6px dashed lime !important;
    font-size: 30px !important; padding: 30px !important; }}
  body {{ background: #eef; font-size: 22px; }}
</style></head>
<body><h1>Acme shop</h1><p>Our products, with a chat widget from another origin.</p>
{snippet}
</body></html>
"""


def _browser_or_skip() -> Any:
    problems = []
    sync_playwright: Any = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problems.append("the playwright package (pip install playwright)")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        problems.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if problems:
        message = "needs " + " and ".join(problems)
        if REQUIRE_SERVICES:
            pytest.fail(f"{message} (REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return sync_playwright


def _application() -> Any:
    """The product's ASGI app; until asgi.py routes widget sockets around the host check, composed here."""
    from inbox_project import asgi

    if hasattr(asgi, "with_widget_sockets"):
        return asgi.application
    from channels.auth import AuthMiddlewareStack
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator

    from channels_app.webchat.routing import with_widget_sockets
    from inbox_project.routing import websocket_urlpatterns

    agents = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
    return ProtocolTypeRouter({"http": asgi.django_asgi_app, "websocket": with_widget_sockets(agents)})


@pytest.fixture
def redis_layer(settings: Any) -> None:
    prefix = f"webchat-browser-{os.getpid()}-{time.monotonic_ns()}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["TEST_REDIS_URL"]], "prefix": prefix},
        }
    }


@pytest.fixture
def live_server_url(redis_layer: None, transactional_db: Any) -> Iterator[str]:
    with daphne_serving(_application) as url:
        yield url


@contextlib.contextmanager
def customer_site(snippet: str) -> Iterator[str]:
    page = HOST_PAGE.format(snippet=snippet).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def in_thread(function: Any, **kwargs: Any) -> Any:
    """Run ``function`` in a thread of its own and return its result.

    Playwright's sync API keeps an event loop running in the test's thread, where Django refuses
    ORM calls and the gateway's ``async_to_sync`` cannot run; a plain thread has neither problem.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = function(**kwargs)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def wait_for(what: str, check: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def sync_playwright() -> Any:
    """Playwright's entry point; checked before the server starts, so a missing browser skips at once."""
    return _browser_or_skip()


def test_widget_on_another_origin_chats_live_with_an_agent(
    sync_playwright: Any, live_server_url: str, agent: Any, team: Any
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    token = "widget-browser-test-inbox"
    snippet = f'<script src="{live_server_url}/static/webchat/widget.js" data-inbox="{token}" async></script>'

    with customer_site(snippet) as site:
        assert site != live_server_url  # another origin than the inbox's server
        f.InboxFactory(
            name="Acme chat",
            kind="webchat",
            webhook_token=token,
            members=[agent],
            default_team=team,
            assistant_enabled=False,
            config={"allowed_origins": [site], "greeting": "Hi! Ask us anything.", "color": "#0f766e"},
        )
        # Inside this block Playwright's event loop runs in this thread: database work goes through in_thread().
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1100, "height": 760})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{site}/products/reader?ref=ad", referer="https://search.example.org/")

            widget = page.locator("inbox-chat-widget")
            launcher = widget.locator(".launcher")
            launcher.wait_for(timeout=WAIT_MS)
            box = launcher.bounding_box()
            assert box is not None and 50 <= box["width"] <= 70, box  # the page's CSS did not blow it up
            page.wait_for_function(
                "() => document.querySelector('inbox-chat-widget').shadowRoot.querySelector('.title').textContent"
                " === 'Acme chat'",
                timeout=WAIT_MS,
            )
            page.screenshot(path=str(ARTIFACTS / "webchat-closed.png"))

            launcher.click()
            widget.locator(".panel.open").wait_for(timeout=WAIT_MS)
            widget.locator(".msg.out", has_text="Hi! Ask us anything.").wait_for(timeout=WAIT_MS)
            widget.locator("textarea").fill("Hello, is my <b>order</b> shipped?")
            widget.locator("textarea").press("Enter")
            mine = widget.locator(".msg.in", has_text="Hello, is my <b>order</b> shipped?")
            mine.wait_for(timeout=WAIT_MS)

            message = wait_for(
                "the visitor's message in the database",
                lambda: in_thread(lambda: Message.objects.filter(direction="in").first()),
            )
            assert message.body == "Hello, is my <b>order</b> shipped?"
            assert message.metadata["page_url"] == f"{site}/products/reader?ref=ad"
            assert message.metadata["referrer"] == "https://search.example.org/"
            assert "Chrome" in message.metadata["user_agent"]
            conversation = in_thread(
                lambda: Conversation.objects.select_related("inbox").get(pk=message.conversation_id)
            )
            page.wait_for_function(
                "() => document.querySelector('inbox-chat-widget').getAttribute('data-live') === 'yes'", timeout=WAIT_MS
            )

            # The agent starts typing, then replies, from this process: through Redis to the server's socket.
            in_thread(
                send_event_on_commit,
                event={
                    "type": "typing",
                    "conversation_id": conversation.pk,
                    "sender_kind": "agent",
                    "sender_name": "Alice Agent",
                    "is_typing": True,
                },
                groups=[visitor_group(conversation.pk)],
            )
            widget.locator(".typing", has_text="Alice Agent is typing").wait_for(timeout=WAIT_MS)
            in_thread(services.note_add, conversation=conversation, author=agent, body="internal: check the warehouse")
            in_thread(
                services.message_send_reply,
                conversation=conversation,
                author=agent,
                body="Yes! It left today. <img src=x onerror=alert(1)>",
            )
            reply = widget.locator(".msg.out", has_text="Yes! It left today. <img src=x onerror=alert(1)>")
            reply.wait_for(timeout=WAIT_MS)
            assert "Alice Agent" in reply.inner_text()
            assert widget.locator("img").count() == 0  # shown as text, never as markup
            assert widget.locator(".msg", has_text="internal: check the warehouse").count() == 0

            # An attachment goes as multipart and comes back as a link.
            png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
            widget.locator("input[type=file]").set_input_files(
                {"name": "receipt.png", "mimeType": "image/png", "buffer": png}
            )
            widget.locator(".msg.in .file", has_text="receipt.png").wait_for(timeout=WAIT_MS)

            # Offline: the message waits in the browser, and goes once when the connection is back.
            context.set_offline(True)
            widget.locator("textarea").fill("Sent while offline")
            widget.locator("textarea").press("Enter")
            widget.locator(".msg.pending", has_text="Queued").wait_for(timeout=WAIT_MS)
            assert not in_thread(lambda: Message.objects.filter(body="Sent while offline").exists())
            context.set_offline(False)
            wait_for(
                "the queued message to arrive",
                lambda: in_thread(lambda: Message.objects.filter(body="Sent while offline").exists()),
            )
            page.wait_for_function(
                "() => !document.querySelector('inbox-chat-widget').shadowRoot.querySelector('.msg.pending')",
                timeout=WAIT_MS,
            )
            page.screenshot(path=str(ARTIFACTS / "webchat-open.png"))

            # A new page load keeps the conversation (the visitor token in localStorage).
            page.reload()
            widget.locator(".launcher").wait_for(timeout=WAIT_MS)
            widget.locator(".msg.out", has_text="Yes! It left today.").wait_for(timeout=WAIT_MS)
            assert widget.locator(".msg", has_text="Sent while offline").count() == 1

            browser.close()
            assert errors == []
    assert Message.objects.filter(body="Sent while offline").count() == 1
    assert Conversation.objects.count() == 1
