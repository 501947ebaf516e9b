"""The agent inbox in a real browser: the flows of an agent's working day.

A daphne server in a child process serves the product against this run's PostgreSQL database,
with the Redis channel layer; Chromium (Playwright, headless) is the agent. Customers write in the
way they do in production: a signed Twilio webhook posted to the server, or the service called in
this process (its live event reaches the server's sockets through Redis). Nothing is mocked between
a change and what the page shows.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from conversations import services
from conversations.models import Conversation, Message, Notification, Priority, Status
from conversations.realtime import send_event_on_commit, user_group
from tests import factories as f
from tests.browser.conftest import (
    ARTIFACTS,
    WAIT_MS,
    in_thread,
    open_browser,
    post_signed_sms,
    sign_in,
    wait_for,
    watch_errors,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CAROL_PHONE = "+14155550123"


def _read_at(notification_id: int) -> Any:
    return Notification.objects.get(pk=notification_id).read_at


@pytest.fixture
def carol(inbox: Any, sms_inbox: Any) -> Any:
    """A customer who wrote on the web chat last week and will now text us."""
    contact = f.ContactFactory(name="Carol <b>Customer</b>")
    f.ChannelIdentityFactory(contact=contact, kind="web_visitor", value="visitor-carol")
    f.ChannelIdentityFactory(contact=contact, kind="phone", value=CAROL_PHONE)
    earlier = services.message_receive_inbound(
        inbox=inbox, identity_kind="web_visitor", identity_value="visitor-carol", body="My order never arrived"
    ).message.conversation
    Conversation.objects.filter(pk=earlier.pk).update(status=Status.RESOLVED)
    return contact


def test_an_agents_day_in_the_inbox(
    sync_playwright: Any, twilio: Any, live_server_url: str, agent: Any, sms_inbox: Any, carol: Any
) -> None:
    server = live_server_url
    f.CannedResponseFactory(shortcut="thanks", title="Thanks", body="Thanks {{customer_name}}, {{agent_name}} here.")
    other = f.ConversationFactory(inbox=sms_inbox, contact=f.ContactFactory(name="Dave Other"))
    f.MessageFactory(conversation=other, body="Unrelated question")

    with sync_playwright() as playwright:
        browser = open_browser(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = watch_errors(page)

        # Log in: the inbox sends a stranger to the sign-in page, and back after it.
        sign_in(page, server, agent.username)
        assert page.locator("#me-name").inner_text() == "Alice Agent"

        # A signed SMS posted to the webhook appears in the list without a reload.
        assert post_signed_sms(server, sms_inbox, sender=CAROL_PHONE, body="Any news on my parcel?") == 200
        row = page.locator(".conversation-row", has_text="Any news on my parcel?")
        row.wait_for(timeout=WAIT_MS)
        # The contact's name is text, never markup.
        assert row.locator(".row-name").inner_text() == "Carol <b>Customer</b>"
        assert page.locator(".row-name b").count() == 0
        assert row.locator(".channel").inner_text() == "SMS"
        assert row.locator(".unread-dot").count() == 1
        page.screenshot(path=str(ARTIFACTS / "inbox-list.png"))

        # Open it: the whole history across channels, each message marked with its channel.
        row.locator(".row-open").click()
        thread = page.locator("#messages")
        web_message = thread.locator(".message", has_text="My order never arrived")
        sms_message = thread.locator(".message", has_text="Any news on my parcel?")
        web_message.wait_for(timeout=WAIT_MS)
        sms_message.wait_for(timeout=WAIT_MS)
        assert web_message.locator(".channel").inner_text() == "Web"
        assert sms_message.locator(".channel").inner_text() == "SMS"
        assert page.locator("#profile-panel .identities").inner_text().count(CAROL_PHONE) == 1
        conversation = in_thread(lambda: Conversation.objects.get(inbox=sms_inbox, contact=carol))

        # Take over from the assistant.
        assert in_thread(lambda: Conversation.objects.get(pk=conversation.pk).handler) == "bot"
        page.locator("#action-take-over").click()
        page.locator("#thread-meta", has_text="Assigned to Alice Agent").wait_for(timeout=WAIT_MS)
        fresh = in_thread(lambda: Conversation.objects.get(pk=conversation.pk))
        assert (fresh.handler, fresh.assignee_id) == ("human", agent.pk)

        # Reply (Ctrl+Enter) and see it in the thread; it is stored and sent through Twilio.
        page.locator("#composer-text").fill("We are on it, Carol.")
        page.locator("#composer-text").press("Control+Enter")
        thread.locator(".message.outbound", has_text="We are on it, Carol.").wait_for(timeout=WAIT_MS)
        wait_for(
            "the reply sent to Twilio",
            lambda: any(m.param("Body") == "We are on it, Carol." for m in twilio.sent_messages),
        )

        # A private note: visibly distinct, and never sent.
        page.locator("#mode-note").click()
        page.locator("#composer-text").fill("Checked with the courier: lost in transit.")
        page.locator("#send").click()
        note = thread.locator(".message.note", has_text="Checked with the courier")
        note.wait_for(timeout=WAIT_MS)
        assert "Private note" in note.inner_text()
        assert not any("courier" in (m.param("Body") or "") for m in twilio.sent_messages)

        # A canned response: type "/", pick it, its variables filled in.
        page.locator("#mode-reply").click()
        composer = page.locator("#composer-text")
        composer.fill("")
        composer.type("/tha")
        page.locator("#canned-picker li", has_text="/thanks").wait_for(timeout=WAIT_MS)
        composer.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('#composer-text').value"
            " === 'Thanks Carol <b>Customer</b>, Alice Agent here.'",
            timeout=WAIT_MS,
        )
        page.screenshot(path=str(ARTIFACTS / "inbox-conversation.png"))
        composer.fill("")

        # Resolve with the keyboard.
        composer.press("Escape")  # leave the composer
        page.keyboard.press("Control+3")
        page.locator("#thread-meta .status-resolved").wait_for(timeout=WAIT_MS)
        assert in_thread(lambda: Conversation.objects.get(pk=conversation.pk).status) == Status.RESOLVED

        # The shortcut help.
        page.keyboard.press("Control+/")
        page.locator("dialog#help[open]").wait_for(timeout=WAIT_MS)
        page.screenshot(path=str(ARTIFACTS / "inbox-shortcuts.png"))
        page.keyboard.press("Escape")

        # Search with the syntax (Ctrl+K): resolved conversations stay searchable.
        page.keyboard.press("Control+k")
        assert page.evaluate("document.activeElement.id") == "search"
        page.keyboard.type(f"phone:{CAROL_PHONE}")
        page.keyboard.press("Enter")
        # The search's own rows: the list shown before it (Carol's and Dave's) also has two.
        page.wait_for_function(
            "() => [...document.querySelectorAll('#conversation-list .row-name')].map((n) => n.textContent)"
            ".join('|') === 'Carol <b>Customer</b>|Carol <b>Customer</b>'",
            timeout=WAIT_MS,
        )
        page.locator("#search").fill('"unrelated question"')
        page.keyboard.press("Enter")
        page.locator("#conversation-list .conversation-row", has_text="Dave Other").wait_for(timeout=WAIT_MS)
        assert page.locator("#conversation-list .conversation-row").count() == 1
        page.locator("#search").fill("status:nonsense")
        page.keyboard.press("Enter")
        page.locator("#list-error", has_text="nonsense").wait_for(timeout=WAIT_MS)
        page.screenshot(path=str(ARTIFACTS / "inbox-search.png"))

        browser.close()
    assert errors == []
    assert Message.objects.filter(conversation=conversation, is_private_note=True).count() == 1


def _carol_wrote(conversation: Any) -> None:
    """Carol's conversation has her first message; she writes from the web chat as a known visitor."""
    f.MessageFactory(conversation=conversation, body="First question")
    f.ChannelIdentityFactory(contact=conversation.contact, kind="web_visitor", value="visitor-carol")


def _open_carols_thread(playwright: Any, server: str, agent: Any) -> tuple[Any, Any, list[str]]:
    """Carol's conversation open in the agent's inbox: the browser, the page and its errors."""
    browser = open_browser(playwright)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = watch_errors(page)
    sign_in(page, server, agent.username)
    page.locator(".conversation-row", has_text="Carol Customer").locator(".row-open").click()
    page.locator("#messages .message", has_text="First question").wait_for(timeout=WAIT_MS)
    return browser, page, errors


def test_reconnecting_page_catches_up_on_what_it_missed(
    sync_playwright: Any, live_server_url: str, agent: Any, inbox: Any, conversation: Any
) -> None:
    _carol_wrote(conversation)
    with sync_playwright() as playwright:
        browser, page, errors = _open_carols_thread(playwright, live_server_url, agent)

        # The connection drops; meanwhile the customer writes again and someone new writes in.
        page.evaluate("window.inboxSocket.pause()")
        page.wait_for_selector("body[data-connection=offline]", timeout=WAIT_MS)
        in_thread(
            services.message_receive_inbound,
            inbox=inbox,
            identity_kind="web_visitor",
            identity_value="visitor-new",
            contact_name="Nina Newcomer",
            body="Hello from a new customer",
        )
        in_thread(
            lambda: services.message_receive_inbound(
                inbox=inbox,
                identity_kind="web_visitor",
                identity_value="visitor-carol",
                body="Missed while you were away",
            )
        )
        page.wait_for_timeout(500)
        assert page.locator(".message", has_text="Missed while you were away").count() == 0

        # Back online: the page catches up over REST.
        page.evaluate("window.inboxSocket.resume()")
        page.wait_for_selector("body[data-connection=live]", timeout=WAIT_MS)
        page.locator("#messages .message", has_text="Missed while you were away").wait_for(timeout=WAIT_MS)
        page.locator(".conversation-row", has_text="Hello from a new customer").wait_for(timeout=WAIT_MS)
        browser.close()
    assert errors == []


def _answer_late(page: Any, name: str, matches: str) -> None:
    """Wrap the page's fetch: while ``window.<name>Slow`` is set, the answers to requests that ``matches``
    (a JavaScript test of ``url`` and ``method``) come back 1.5 s late; ``window.<name>Held`` and
    ``window.<name>Released`` say when such an answer is held and when it is let go."""
    page.evaluate(
        """(() => {
          const fetchNow = window.fetch.bind(window);
          window.fetch = async (url, options = {}) => {
            const method = (options.method || "GET").toUpperCase();
            const held = window.NAMESlow && (MATCHES);
            const response = await fetchNow(url, options);
            if (held) {
              window.NAMEHeld = true;
              await new Promise((resolve) => setTimeout(resolve, 1500));
              window.NAMEReleased = true;
            }
            return response;
          };
        })()""".replace("NAME", name).replace("MATCHES", matches)
    )


def test_a_note_written_while_the_thread_reloads_stays_in_it(
    sync_playwright: Any, live_server_url: str, agent: Any, inbox: Any, conversation: Any
) -> None:
    _carol_wrote(conversation)
    with sync_playwright() as playwright:
        browser, page, errors = _open_carols_thread(playwright, live_server_url, agent)
        thread = page.locator("#messages")
        _answer_late(page, "thread", r'method === "GET" && /conversations\/\d+\/messages\//.test(String(url))')

        # The connection drops and the customer writes: back online, the page reloads the open thread.
        page.evaluate("window.inboxSocket.pause()")
        page.wait_for_selector("body[data-connection=offline]", timeout=WAIT_MS)
        in_thread(
            lambda: services.message_receive_inbound(
                inbox=inbox, identity_kind="web_visitor", identity_value="visitor-carol", body="Missed while away"
            )
        )
        page.evaluate("window.threadSlow = true")
        page.evaluate("window.inboxSocket.resume()")

        # While that reload's answer is on its way, she writes a note: it shows at once.
        page.wait_for_function("() => window.threadHeld === true", timeout=WAIT_MS)
        page.locator("#mode-note").click()
        page.locator("#composer-text").fill("Written during the reload")
        page.locator("#send").click()
        thread.locator(".message.note", has_text="Written during the reload").wait_for(timeout=WAIT_MS)
        assert page.evaluate("window.threadReleased === true") is False

        # The reload lands, read before her note was stored: the note stays, and what was missed is there.
        page.wait_for_function("() => window.threadReleased === true", timeout=WAIT_MS)
        thread.locator(".message", has_text="Missed while away").wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(300)
        assert thread.locator(".message.note", has_text="Written during the reload").count() == 1
        assert thread.locator(".message", has_text="First question").count() == 1
        browser.close()
    assert errors == []


def test_a_search_is_not_overwritten_by_an_older_list_load_that_answers_late(
    sync_playwright: Any, live_server_url: str, agent: Any, inbox: Any, conversation: Any
) -> None:
    _carol_wrote(conversation)
    dave = f.ConversationFactory(inbox=inbox, contact=f.ContactFactory(name="Dave Other"))
    f.MessageFactory(conversation=dave, body="Unrelated question")
    with sync_playwright() as playwright:
        browser, page, errors = _open_carols_thread(playwright, live_server_url, agent)
        rows = page.locator("#conversation-list .row-name")
        page.locator("#conversation-list .conversation-row", has_text="Dave Other").wait_for(timeout=WAIT_MS)
        _answer_late(page, "list", r"/\/conversations\/\?/.test(String(url)) && !/[?&]q=[^&]/.test(String(url))")

        # She changes the order (a list load that answers late), then searches before it answers.
        page.evaluate("window.listSlow = true")
        page.locator("#sort").select_option("oldest")
        page.wait_for_function("() => window.listHeld === true", timeout=WAIT_MS)
        page.evaluate("window.listSlow = false")
        page.locator("#search").fill('"First question"')
        page.locator("#search").press("Enter")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#conversation-list .row-name')].map((n) => n.textContent)"
            ".join('|') === 'Carol Customer'",
            timeout=WAIT_MS,
        )

        # The older load lands: what she searched for stays.
        page.wait_for_function("() => window.listReleased === true", timeout=WAIT_MS)
        page.wait_for_timeout(300)
        assert rows.all_inner_texts() == ["Carol Customer"]
        browser.close()
    assert errors == []


def test_two_agents_see_each_others_changes_live(
    sync_playwright: Any, live_server_url: str, agent: Any, teammate: Any, inbox: Any
) -> None:
    server = live_server_url
    conversations = []
    people = (("Olga Order", "Where is my order?"), ("Pete Parcel", "Parcel damaged"), ("Rita Refund", "Refund?"))
    for name, body in people:
        conversation = f.ConversationFactory(inbox=inbox, contact=f.ContactFactory(name=name))
        f.MessageFactory(conversation=conversation, body=body)
        Conversation.objects.filter(pk=conversation.pk).update(last_message_preview=body)
        conversations.append(conversation)
    olga, pete, rita = conversations

    with sync_playwright() as playwright:
        browser = open_browser(playwright)
        alice_page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        bob_page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        errors = watch_errors(alice_page) + watch_errors(bob_page)
        sign_in(alice_page, server, agent.username)
        sign_in(bob_page, server, teammate.username)

        # Bob watches his own conversations.
        bob_page.locator('.view-button[data-view="mine"]').click()
        bob_page.locator("#conversation-list .empty").wait_for(timeout=WAIT_MS)

        # Alice opens Olga's conversation; Bob opens it too and each sees the other there.
        alice_page.locator(".conversation-row", has_text="Olga Order").locator(".row-open").click()
        alice_page.locator("#messages .message", has_text="Where is my order?").wait_for(timeout=WAIT_MS)
        bob_page.goto(f"{server}/inbox/c/{olga.pk}/")
        bob_page.locator("#messages .message", has_text="Where is my order?").wait_for(timeout=WAIT_MS)
        alice_page.locator("#thread-viewers", has_text="Bob Teammate").wait_for(timeout=WAIT_MS)
        bob_page.locator("#thread-viewers", has_text="Alice Agent").wait_for(timeout=WAIT_MS)

        # Bob types; Alice sees it.
        bob_page.locator("#composer-text").type("Let me check")
        alice_page.locator("#typing", has_text="Bob Teammate is typing").wait_for(timeout=WAIT_MS)
        bob_page.locator("#composer-text").fill("")
        bob_page.locator(".view-button[data-view=mine]").click()

        # Alice assigns it to Bob: it appears under Bob's "Mine" without a reload, and his count goes up.
        alice_page.locator("#action-assign").select_option(str(teammate.pk))
        alice_page.locator("#thread-meta", has_text="Assigned to Bob Teammate").wait_for(timeout=WAIT_MS)
        bob_page.locator("#conversation-list .conversation-row", has_text="Olga Order").wait_for(timeout=WAIT_MS)
        bob_page.locator('.view-button[data-view="mine"] .count', has_text="1").wait_for(timeout=WAIT_MS)
        bob_page.screenshot(path=str(ARTIFACTS / "inbox-mine-live.png"))

        # Bulk: Alice selects two conversations and resolves them at once; both pages drop them.
        for name in ("Pete Parcel", "Rita Refund"):
            alice_page.locator(".conversation-row", has_text=name).locator(".row-select").check()
        alice_page.locator("#bulk-count", has_text="2 selected").wait_for(timeout=WAIT_MS)
        alice_page.screenshot(path=str(ARTIFACTS / "inbox-bulk.png"))
        alice_page.locator("#bulk-action").select_option("status:resolved")
        alice_page.locator("#bulk-apply").click()
        wait_for(
            "both conversations resolved",
            lambda: (
                in_thread(
                    lambda: set(Conversation.objects.filter(pk__in=[pete.pk, rita.pk]).values_list("status", flat=True))
                )
                == {Status.RESOLVED}
            ),
        )
        alice_page.wait_for_function(
            "() => ![...document.querySelectorAll('.row-name')].some((n) => n.textContent === 'Pete Parcel')",
            timeout=WAIT_MS,
        )

        # Bob goes busy: Alice's teammates list says so at once.
        bob_page.locator("#availability").select_option("busy")
        alice_page.locator(f'#presence-list [data-user="{teammate.pk}"].presence-busy').wait_for(timeout=WAIT_MS)

        # A notification for Bob reaches his notification centre live, and opens its conversation.
        note = in_thread(
            f.NotificationFactory,
            recipient=teammate,
            conversation=rita,
            title="Rita <i>Refund</i> replied",
            kind="customer_replied",
        )
        in_thread(
            send_event_on_commit,
            event={
                "type": "notification.created",
                "notification": {
                    "id": note.pk,
                    "kind": note.kind,
                    "title": note.title,
                    "body": note.body,
                    "conversation_id": rita.pk,
                    "created_at": note.created_at.isoformat(),
                },
            },
            groups=[user_group(teammate.pk)],
        )
        # Unread: Olga's assignment to him (live, earlier) and this one.
        bob_page.locator("#notifications-badge", has_text=re.compile(r"^2$")).wait_for(timeout=WAIT_MS)
        bob_page.locator("#notifications-button").click()
        item = bob_page.locator("#notifications-list li.unread", has_text="Rita <i>Refund</i> replied")
        item.wait_for(timeout=WAIT_MS)
        bob_page.screenshot(path=str(ARTIFACTS / "inbox-notifications.png"))
        item.locator("button").click()
        bob_page.locator("#thread-contact", has_text="Rita Refund").wait_for(timeout=WAIT_MS)
        wait_for("the notification marked read", lambda: in_thread(lambda: _read_at(note.pk)) is not None)
        browser.close()
    assert errors == []


def test_the_inbox_works_on_a_phone_sized_screen(
    sync_playwright: Any, live_server_url: str, agent: Any, conversation: Any
) -> None:
    body = "Hello from my phone, a rather long message that has to wrap nicely on a narrow screen"
    f.MessageFactory(conversation=conversation, body=body)
    with sync_playwright() as playwright:
        browser = open_browser(playwright)
        page = browser.new_page(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
        errors = watch_errors(page)
        sign_in(page, live_server_url, agent.username)
        row = page.locator(".conversation-row", has_text="Carol Customer")
        row.wait_for(timeout=WAIT_MS)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(ARTIFACTS / "inbox-phone-list.png"))

        # One panel at a time: the conversation replaces the list, with a way back.
        row.locator(".row-open").click()
        page.locator("#messages .message", has_text="Hello from my phone").wait_for(timeout=WAIT_MS)
        assert not page.locator(".list-panel").is_visible()
        assert page.locator("#composer-text").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(ARTIFACTS / "inbox-phone-conversation.png"))
        page.locator("#toggle-profile").click()
        page.locator("#profile-panel h2", has_text="Carol Customer").wait_for(timeout=WAIT_MS)
        page.screenshot(path=str(ARTIFACTS / "inbox-phone-customer.png"))
        page.locator("#profile-panel .close-profile").click()
        page.locator("#thread-back").click()
        page.locator(".list-panel").wait_for(state="visible", timeout=WAIT_MS)
        browser.close()
    assert errors == []


def test_an_agent_reviews_the_assistants_email_drafts(
    sync_playwright: Any, live_server_url: str, agent: Any, team: Any
) -> None:
    from routing import services as assistant_services

    mailbox = f.InboxFactory(name="Support mail", kind="email", members=[agent], default_team=team)
    drafts = []
    for body, answer, confidence in [
        ("Where is invoice 88?", "Invoice 88 is in <b>Billing</b>.", 0.8),
        ("Also, can I pay by card?", "A second thought.", 0.4),
    ]:
        received = services.message_receive_inbound(
            inbox=mailbox, identity_kind="email", identity_value="dora@example.com", body=body
        )
        drafts.append(
            assistant_services.assistant_draft_create(
                conversation=received.message.conversation,
                for_message=received.message,
                body=answer,
                confidence=confidence,
            )
        )
    assert all(drafts)
    conversation = received.message.conversation
    with sync_playwright() as playwright:
        browser = open_browser(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = watch_errors(page)
        sign_in(page, live_server_url, agent.username)
        page.locator(".conversation-row", has_text="Also, can I pay by card?").locator(".row-open").click()
        first = page.locator("#drafts .draft", has_text="confidence 80%")
        first.wait_for(timeout=WAIT_MS)
        assert first.locator("textarea").input_value() == "Invoice 88 is in <b>Billing</b>."  # text, never markup
        assert page.locator("#drafts b").count() == 0
        page.screenshot(path=str(ARTIFACTS / "inbox-drafts.png"))

        # Edit and send: it goes out as the agent's reply, once, and its card is gone.
        first.locator("textarea").fill("Invoice 88 is under Billing > Invoices.")
        first.locator(".draft-send").click()
        page.locator("#messages .message.outbound:not(.note)", has_text="Billing > Invoices").wait_for(timeout=WAIT_MS)
        page.locator("#drafts .draft", has_text="confidence 80%").wait_for(state="detached", timeout=WAIT_MS)

        # Discard the other: nothing more is sent, and no draft is left.
        page.locator("#drafts .draft", has_text="confidence 40%").locator(".draft-discard").click()
        page.locator("#drafts").wait_for(state="hidden", timeout=WAIT_MS)
        replies = in_thread(
            lambda: list(
                Message.objects.filter(conversation=conversation, is_private_note=False, direction="out").values_list(
                    "body", "sender_user_id"
                )
            )
        )
        assert replies == [("Invoice 88 is under Billing > Invoices.", agent.pk)]
        browser.close()
    assert errors == []


def test_the_rest_of_the_toolbar_the_keyboard_and_select_all_matching(
    sync_playwright: Any, live_server_url: str, agent: Any, inbox: Any
) -> None:
    for number in range(55):  # more than one page of the list
        contact = f.ContactFactory(name=f"Customer {number:02d}")
        convo = f.ConversationFactory(inbox=inbox, contact=contact)
        f.MessageFactory(conversation=convo, body=f"Question number {number:02d}")
    with sync_playwright() as playwright:
        browser = open_browser(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        errors = watch_errors(page)
        sign_in(page, live_server_url, agent.username)
        page.locator(".conversation-row").first.wait_for(timeout=WAIT_MS)

        # Arrows and Enter open the conversation under the cursor.
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.locator("#thread-contact", has_text="Customer").wait_for(timeout=WAIT_MS)
        opened_id = page.evaluate("window.inboxState.open.id")
        opened = in_thread(lambda: Conversation.objects.get(pk=opened_id))

        # Priority needs a reason, and the reason is recorded.
        page.locator("#action-priority").select_option("urgent")
        page.locator("#priority-reason").fill("Their shop is down")
        page.locator("#priority-reason").press("Enter")
        wait_for(
            "the priority change",
            lambda: in_thread(lambda: Conversation.objects.get(pk=opened.pk).priority) == Priority.URGENT,
        )
        assert in_thread(lambda: opened.events.filter(kind="priority", data__reason="Their shop is down").exists()), (
            "the reason is kept with the change"
        )

        # A tag, and a snooze until a given time.
        page.locator("#tag-input").fill("needs-callback")
        page.locator("#tag-input").press("Enter")
        page.locator("#thread-tags", has_text="needs-callback").wait_for(timeout=WAIT_MS)
        page.locator("#snooze-until").fill("2031-01-02T09:30")
        page.locator("#snooze-form button[type=submit]").click()
        wait_for(
            "the snooze", lambda: in_thread(lambda: Conversation.objects.get(pk=opened.pk).snoozed_until) is not None
        )

        # An attachment sent with a reply.
        page.locator("#composer-files").set_input_files(
            files=[{"name": "steps.txt", "mimeType": "text/plain", "buffer": b"1. restart the router"}]
        )
        page.locator("#composer-text").fill("Here are the steps.")
        page.locator("#composer-text").press("Control+Enter")
        page.locator("#messages .message", has_text="Here are the steps.").locator(".attachments").wait_for(
            timeout=WAIT_MS
        )
        assert in_thread(
            lambda: list(
                opened.messages.filter(body="Here are the steps.").values_list("attachments__filename", flat=True)
            )
        ) == ["steps.txt"]

        # D downloads the whole history.
        page.evaluate("document.activeElement && document.activeElement.blur()")
        with page.expect_download(timeout=WAIT_MS) as download:
            page.keyboard.press("d")
        assert str(opened.pk) in download.value.suggested_filename

        # Select all in view, then everything matching the filter (beyond the first page), and archive it.
        page.locator("#select-all").check()
        page.locator("#select-matching").click()
        page.locator("#bulk-count", has_text="All conversations matching").wait_for(timeout=WAIT_MS)
        page.locator("#bulk-action").select_option("archive")
        page.locator("#bulk-apply").click()
        wait_for(
            "every matching conversation archived",
            lambda: (
                in_thread(lambda: Conversation.objects.filter(inbox=inbox).exclude(status="archived").count()) <= 1
            ),  # the snoozed one is not in the "All" view's filter
        )
        browser.close()
    assert errors == []


def test_the_list_shows_sla_states_and_the_agent_sets_notification_choices(
    sync_playwright: Any, live_server_url: str, agent: Any, team: Any
) -> None:
    import time_machine

    from conversations.models import AgentProfile
    from conversations.sla import run_sla_timers

    policy = f.SLAPolicyFactory(first_response_minutes=30)
    line = f.InboxFactory(
        name="Support SMS", kind="sms", members=[agent], default_team=team, sla_policy=policy, assistant_enabled=False
    )
    with time_machine.travel(timezone.now() - timedelta(hours=2)):
        late = services.message_receive_inbound(
            inbox=line, identity_kind="phone", identity_value="+14155550171", body="Waiting for two hours"
        )
    services.message_receive_inbound(inbox=line, identity_kind="phone", identity_value="+14155550172", body="Just now")
    assert run_sla_timers()["breaches"] == 1
    assert late.message.conversation.events.filter(kind="sla_breach").count() == 1

    with sync_playwright() as playwright:
        browser = open_browser(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = watch_errors(page)
        sign_in(page, live_server_url, agent.username)
        late_row = page.locator(".conversation-row", has_text="Waiting for two hours")
        late_row.locator(".sla-breached").wait_for(timeout=WAIT_MS)
        page.locator(".conversation-row", has_text="Just now").locator(".sla-on_track").wait_for(timeout=WAIT_MS)
        page.screenshot(path=str(ARTIFACTS / "inbox-sla.png"))

        # Per type: in the app and by email are the agent's profile, kept by the server.
        page.locator("#notifications-button").click()
        page.locator("#notifications-panel summary", has_text="Notification settings").click()
        email_box = page.get_by_label("Assigned to you: email")
        assert email_box.is_checked()  # the default for assignments
        email_box.uncheck()
        wait_for(
            "the choice saved",
            lambda: (
                in_thread(lambda: AgentProfile.objects.get(user=agent).notification_preferences["assigned"]["email"])
                is False
            ),
        )
        page.reload()
        page.locator("#notifications-button").click()
        page.locator("#notifications-panel summary", has_text="Notification settings").click()
        assert not page.get_by_label("Assigned to you: email").is_checked()
        browser.close()
    assert errors == []
