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


@pytest.mark.parametrize(
    "text",
    [
        "I need to add a new employee to the register",
        "can I get a report per employee",
        "I want my manager to be able to do refunds",
        "is there a way to see which agent sold the most",
        "i need to add someone as an admin",
        "is there a person limit on the starter plan",
        "i want a report of sales per person",
        "give me the steps to invite a team member",
        "I need to escalate permissions for my shift lead",
        "how do I set a callback URL for the webhooks",
        "how do I add a 'call us' button to my online store",
        "how do I handle a customer who wants to speak to the manager about a refund",
    ],
)
def test_the_merchants_own_staff_customers_and_settings_are_not_requests_for_a_person(text):
    assert not triggers.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "i need to talk to a manager",
        "I want to speak to someone in charge",
        "I need someone to look at my account",
        "could I speak to a supervisor",
        "please escalate this",
        "can I get a callback tomorrow",
        "bhai mujhe kisi insaan se baat karni hai",
    ],
)
def test_requests_for_a_person_still_count(text):
    assert triggers.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "where's the option to refund a cash sale",
        "can I limit how much my cashiers can refund",
        "what's the difference between a void and a refund",
    ],
)
def test_refunds_of_the_merchants_own_sales_are_not_keywords(text):
    assert triggers.matched_keyword(text, KEYWORDS) == ""


@pytest.mark.parametrize(
    "text", ["please refund the charge from yesterday", "payment do baar kat gaya, paise wapas karo"]
)
def test_refund_requests_are_still_keywords(text):
    assert triggers.matched_keyword(text, KEYWORDS)


@pytest.mark.parametrize(
    "text",
    [
        "I expect compensation for the downtime on Saturday",
        "I've opened a chargeback with my bank for your monthly fee",
        "I'm going to my bank about this",
        "consider this formal notice that we dispute the early termination fee",
        "charging cable sparked when I plugged it in",
        "the battery on the terminal is swollen",
        "my order of 3 readers arrived with only one in the box",
        "payment do baar kat gaya",
    ],
)
def test_compensation_bank_disputes_safety_and_short_orders_need_staff(text):
    assert triggers.needs_staff(text) == "needs_staff"


@pytest.mark.parametrize(
    "text",
    [
        "my customer says she was charged twice, how do I check her payment",
        "a buyer opened a dispute, how do I respond",
        "how do I dispute a customer chargeback",
    ],
)
def test_how_to_questions_about_the_merchants_own_customers_do_not_need_staff(text):
    assert triggers.needs_staff(text) == ""


@pytest.mark.parametrize(
    "text",
    [
        "I'm not happy with how the receipt looks, can I customise it",
        "hate how small the text is on the terminal, can I make it bigger",
        "frustrating - bluetooth printer disconnects every morning, how do i stop it",
    ],
)
def test_a_how_to_question_said_crossly_is_answered(text):
    assert triage.sentiment(text) <= -0.5
    assert _action(text) == ("reply", "")


def test_an_upset_customer_without_a_question_still_goes_to_a_person():
    assert _action("absolutely unacceptable, this is the worst service, I'm furious")[0] == "handoff"


@pytest.mark.parametrize(
    "text",
    [
        "could I get five minutes with someone from your team",
        "who's your boss, I want to talk to them",
        "please get a person on this, it's complicated",
        "hello?? anybody reading these?",
        "are there any humans working there",
        "transfer me please",
        "I want to talk to sales about custom pricing for a stadium",
        "you already sent me that link and it didn't help",
        "koi banda hai jo meri baat sune?",
    ],
)
def test_more_indirect_requests_for_a_person(text):
    assert triggers.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "this is my fifth message about the same thing",
        "your colleague said someone would follow up, nobody did",
        "still waiting on an answer from Thursday",
        "das ist jetzt das dritte Mal, dass ich schreibe",
        "this is the last straw, we're moving to a different card company",
        "if nobody calls me today I'm closing my account",
        "I've asked my bank to reverse your charge",
        "someone got into my account and added a new user",
        "my login email was changed overnight and it wasn't me",
        "an ex-employee still has the owner password",
        "there are three identical charges from you on my card",
        "you've frozen my payouts over a mistake",
        "I ordered 5 readers and 2 turned up",
        "the account owner has died and we need access to the funds",
        "please delete all the data you hold on me",
        "me han bloqueado la cuenta sin explicación",
    ],
)
def test_more_situations_that_need_staff(text):
    assert triggers.needs_staff(text) == "needs_staff"


@pytest.mark.parametrize(
    "text",
    [
        "my reader died mid transaction, how do I recover the sale",
        "how do I send a second email receipt",
        "I'm switching to a new bank, how do I update my payout account",
        "can I post my menu on social media from the app",
        "I paused my account for winter, how do I unpause it",
        "can the system detect duplicate payments",
        "still waiting for an update to install on the reader",
        "I've already emailed my accountant the report, how do I share it with staff",
        "how do I get more sales with the online store",
        "how do I get billing emails sent to my accountant",
        "we are moving to a new company name, how do I update receipts",
        "what if a package is delivered to the wrong address",
        "is anyone listening to the audio on the terminal",
        "what happens when I cancel, do I keep access until the end of the month?",
    ],
)
def test_questions_near_the_new_situations_are_answered(text):
    assert _action(text) == ("reply", "")


@pytest.mark.parametrize("text", ["I want to terminate my contract", "quiero la devolución de mi dinero ya"])
def test_contracts_and_money_back_in_other_words_are_keywords(text):
    assert triggers.matched_keyword(text, KEYWORDS)


@pytest.mark.parametrize(
    "text",
    [
        "ok not helpful. what now?",
        "could you find me a supervisor",
        "merci mais ce n'est pas ce que j'ai demandé",
        "fine, just leave it for your staff to look at",
        "can we phone someone about this",
    ],
)
def test_a_person_asked_for_without_the_usual_words(text):
    assert triggers.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "wrote twice last week and have heard nothing back",
        "the support ticket was closed without anyone replying",
        "Ich warte seit drei Tagen auf meine Auszahlung",
        "our bank is looking into the fees you took",
        "the parcel turned up empty",
        "a waiter we dismissed last month is still logging in to the till",
        "we never added the bank account that is on the dashboard now",
    ],
)
def test_silence_missing_orders_and_strangers_in_the_account_need_staff(text):
    assert triggers.needs_staff(text) == "needs_staff"


@pytest.mark.parametrize(
    "text",
    [
        "where do we configure the payment callback",
        "can servers escalate an order to the manager on duty",
        "is there a cap on how many employees we can invite",
        "adding three people to the team, where do I start",
        "what are your rules on refunding hardware that was opened",
        "¿se puede hacer un reembolso parcial de una venta?",
        "which cashier refunded this ticket",
        "the receipt roll holder is empty, where do I buy paper",
    ],
)
def test_product_uses_of_request_words_are_answered(text):
    assert triggers.customer_trigger(text, keywords=KEYWORDS) is None
    assert triggers.needs_staff(text) == ""


@pytest.mark.parametrize(
    "text",
    [
        "the bank account on the dashboard is new, nobody here changed it",
        "we were billed for growth but we have always been on starter",
        "the refund report lists refunds we never made",
        "still owed the money from the deposit that was returned",
        "can someone waive the fee this once",
    ],
)
def test_money_and_account_changes_the_customer_disowns_need_staff(text):
    assert triggers.needs_staff(text) == "needs_staff"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what's the email for your complaints department", True),
        ("please just close it for me", True),
        ("where is your head office", False),
        ("what should I say to a customer who wants to speak to my manager", False),
        ("the agent app logs me out every hour", False),
        ("can I export a human readable menu", False),
    ],
)
def test_who_to_write_to_and_doing_it_for_the_customer(text, expected):
    assert triggers.asks_for_person(text) is expected


@pytest.mark.parametrize(
    "text", ["where is the urgent flag for kitchen orders", "can staff mark an order as urgent", "urgente tag colour"]
)
def test_a_keyword_naming_a_label_in_the_product_is_not_a_wish(text):
    assert triggers.matched_keyword(text, KEYWORDS) == ""


@pytest.mark.parametrize(
    "text",
    [
        "I would like to formally raise a grievance about my statement",
        "our account shows restricted since this morning",
        "the card reader zapped me when I plugged it in",
    ],
)
def test_grievances_restrictions_and_shocks_need_staff(text):
    assert triggers.needs_staff(text) == "needs_staff"


def test_a_customer_on_the_phone_is_the_merchants_customer():
    assert not triggers.asks_for_person("how do I take a card from a customer who is on the phone")


@pytest.mark.parametrize(
    "text",
    [
        "where do I add the number my customers can call the shop on",
        "can I get notifications about refunds over 200",
        "is there an urgent threshold setting for big orders",
    ],
)
def test_the_merchants_customers_and_alerts_are_product_questions(text):
    assert triggers.customer_trigger(text, keywords=KEYWORDS) is None
    assert triage.urgency(text) != "urgent"
