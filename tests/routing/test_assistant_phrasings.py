"""Requests for a person said indirectly, and questions that only sound like one (taking a wish back, asking how)."""

from __future__ import annotations

import pytest

from routing.assistant import triage, triggers
from routing.assistant.local import LocalResponder
from routing.assistant.types import AssistantContext

KEYWORDS = triggers.handoff_keywords([])


def _action(message: str) -> tuple[str, str]:
    result = LocalResponder().answer(AssistantContext(message=message))
    trigger = triggers.customer_trigger(message, keywords=KEYWORDS)
    return ("handoff", trigger.reason) if trigger else (result.action, result.handoff_reason)


@pytest.mark.parametrize(
    "text",
    [
        "I don't need to speak to anyone, just tell me how to pair the reader",
        "no need for an agent, where is the user guide",
        "no need to escalate, quick question about receipts",
        "i'm fine talking to a bot, how do i export my sales",
        "I don't want to talk to anybody, just answer please",
    ],
)
def test_a_customer_who_declines_a_person_is_not_handed_off(text):
    assert triggers.declines_person(text)
    assert not triggers.asks_for_person(text)
    assert _action(text) == ("reply", "")


@pytest.mark.parametrize(
    "text", ["I don't want a bot, I want a person", "please get me a human", "no bots, a real person please"]
)
def test_declining_the_bot_is_not_declining_a_person(text):
    assert not triggers.declines_person(text)
    assert triggers.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "not urgent, but how do i change the receipt footer",
        "nothing urgent, what are the fees for amex",
        "what happens to my history if i cancel my subscription later",
        "what's your refund policy for hardware",
        "can a manager approve refunds on the app",
        "where can i see all the refunds my staff made",
        "how do i give an employee access to refunds",
        "how do i issue a partial refund",
        "¿cómo reembolso una venta?",
    ],
)
def test_keywords_in_questions_and_negations_do_not_count(text):
    assert triggers.matched_keyword(text, KEYWORDS) == ""


@pytest.mark.parametrize(
    "text",
    [
        "this is urgent",
        "I want to cancel my subscription",
        "please refund me",
        "not happy, I want a refund",
        "if it's not fixed today I want a refund",
        "i still can't see my refund on my card",
    ],
)
def test_keywords_still_count_when_they_are_meant(text):
    assert triggers.matched_keyword(text, KEYWORDS) != ""


def test_not_urgent_is_not_urgent():
    assert triage.urgency("not urgent at all, just curious what the app can do") == "normal"
    assert triage.urgency("this is urgent, the reader is dead") == "urgent"


@pytest.mark.parametrize(
    "text",
    [
        "how do i turn on fraud protection",
        "how does fraud screening work for online payments",
        "what should i do if i get a phishing email",
        "what happens if my account gets suspended, hypothetically",
    ],
)
def test_how_to_questions_about_security_do_not_need_staff(text):
    assert triggers.needs_staff(text) == ""


@pytest.mark.parametrize(
    "text",
    [
        "how do i get back in, my account was hacked",
        "what should i do if someone hacked my account and changed the password",
        "where can i make a complaint",
        "how do i dispute a charge you made",
    ],
)
def test_how_to_questions_that_tell_of_something_that_happened_still_need_staff(text):
    assert triggers.needs_staff(text) == "needs_staff"


@pytest.mark.parametrize(
    "text",
    [
        "where is my payout?",
        "my deposit is missing",
        "mon virement n'est toujours pas arrivé",
        "i got the wrong reader model",
        "only received 2 of the 3 readers i ordered",
        "tracking says delivered but it never arrived",
        "the bank returned my payout",
        "the payout doesn't add up, something is wrong",
        "locked out and I no longer have access to my old email",
    ],
)
def test_missing_money_and_orders_gone_wrong_need_staff(text):
    assert triggers.needs_staff(text) == "needs_staff"


@pytest.mark.parametrize("text", ["when will my payout arrive", "how long does shipping take", "can i track my order"])
def test_questions_about_payouts_and_orders_do_not_need_staff(text):
    assert triggers.needs_staff(text) == ""


@pytest.mark.parametrize(
    "text", ["the whole system is down, customers are waiting", "terminal down, queue of customers, help now"]
)
def test_a_shop_at_a_standstill_is_urgent(text):
    assert triage.urgency(text) == "urgent"
    assert _action(text) == ("handoff", "urgent")


@pytest.mark.parametrize(
    "text",
    [
        "how do i remove a staff member who left",
        "how do i get my staff to stop seeing the sales totals",
        "how do i give a staff member manager permissions",
    ],
)
def test_questions_about_the_merchants_own_staff_are_not_requests_for_a_person(text):
    assert not triggers.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "the instructions you sent me didn't work",
        "tried everything in the articles and it's still not printing",
        "if this isn't fixed we'll take our business elsewhere",
        "thinking about switching to another provider",
        "all our products got deleted after the update",
        "the terminal started smoking and smells burnt",
        "one of my cashiers has been stealing through refunds",
    ],
)
def test_help_that_failed_threats_to_leave_lost_data_and_safety_need_a_person(text):
    assert _action(text)[0] == "handoff"


@pytest.mark.parametrize(
    "text",
    [
        "how do i restore deleted products",
        "some items vanished from my grid view, how do i show them again",
        "what tips do you have for a busy lunch service",
    ],
)
def test_questions_near_those_do_not_need_staff(text):
    assert triggers.needs_staff(text) == ""
