"""Knowledge retrieval, the handoff-request detector, the classifier and the local responder."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from routing.assistant import knowledge, triage, triggers
from routing.assistant.knowledge import Article, KnowledgeIndex, strip_disallowed_links
from routing.assistant.local import FALLBACK_REPLY, LocalResponder
from routing.assistant.summary import summarize
from routing.assistant.types import AssistantContext
from routing.models import KnowledgeArticle
from tests import factories as f
from tests.routing.assistant_helpers import make_articles


@pytest.mark.django_db
def test_search_finds_the_matching_published_article(inbox):
    articles = make_articles()
    results = knowledge.search_articles("my receipt printer is out of paper", inbox_id=inbox.pk)
    assert results[0].article.id == articles[3].pk
    assert 0 < results[0].score <= 1


@pytest.mark.django_db
def test_search_skips_unpublished_and_other_inboxes_articles(inbox):
    other_inbox: Any = f.InboxFactory()
    KnowledgeArticle.objects.create(title="Printer jams", body="Open the lid.", keywords="printer", is_published=False)
    KnowledgeArticle.objects.create(
        title="Printer paper", body="Use 57mm rolls.", keywords="printer", inbox=other_inbox
    )
    own = KnowledgeArticle.objects.create(title="Printer setup", body="Pair it.", keywords="printer", inbox=inbox)
    shared = KnowledgeArticle.objects.create(title="Printer lights", body="Red means paper.", keywords="printer")
    found = {r.article.id for r in knowledge.search_articles("printer", inbox_id=inbox.pk, limit=10)}
    assert found == {own.pk, shared.pk}


@pytest.mark.django_db
@pytest.mark.postgres
def test_postgres_full_text_matches_word_forms(inbox):
    assert connection.vendor == "postgresql"
    article = KnowledgeArticle.objects.create(
        title="Connecting QuickBooks", body="Your sales are synced every night.", keywords="accounting"
    )
    results = knowledge.search_articles("why isn't my QuickBooks syncing?", inbox_id=inbox.pk)
    assert [r.article.id for r in results] == [article.pk]


@pytest.mark.django_db
def test_search_with_nothing_to_match_finds_nothing(inbox):
    make_articles()
    assert knowledge.search_articles("???", inbox_id=inbox.pk) == []
    assert knowledge.search_articles("zebra giraffe", inbox_id=inbox.pk) == []


def test_python_index_prefers_title_and_keyword_matches():
    index = KnowledgeIndex(
        [
            Article(1, "Payout schedule", "When money arrives.", "payout, deposit"),
            Article(2, "Printer", "Payouts are not related to printers at all.", "printer"),
        ]
    )
    first, second = index.search("where is my payout")
    assert (first.article.id, second.article.id) == (1, 2)
    assert first.score > second.score


def test_links_to_other_hosts_are_stripped():
    reply = "See https://help.acme.example/x, https://evil.example.net/y and bit.ly/zz; mail no-reply@acme.com."
    cleaned = strip_disallowed_links(reply, {"help.acme.example"})
    assert "https://help.acme.example/x" in cleaned
    assert "evil.example.net" not in cleaned
    assert "no-reply@acme.com" in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "can I talk to a real person",
        "Can i speak to someone please",
        "human please",
        "HUMAN",
        "agent",
        "representative",
        "I want a live agent",
        "get me a human being",
        "transfer me to an operator",
        "is anyone there?",
        "this bot is useless",
        "you're not helping",
        "am I talking to a robot?",
        "let me talk to your support team",
        "Can someone call me back",
        "quiero hablar con un agente",
        "necesito una persona real",
        "je veux parler à quelqu'un",
        "un conseiller svp",
        "ich möchte mit einem Mitarbeiter sprechen",
    ],
)
def test_requests_for_a_person_are_recognised(text):
    assert triggers.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "How do I reset my password?",
        "someone charged my card twice",
        "how do I add staff accounts for my team",
        "I don't need a human, just tell me the fee",
        "My printer doesn't print",
        "what does the agent field in the export mean for my sales people report?",
    ],
)
def test_ordinary_questions_are_not_requests_for_a_person(text):
    assert not triggers.asks_for_person(text)


def test_keywords_match_whole_words_and_phrases():
    assert triggers.matched_keyword("Please CANCEL my subscription!", ["cancel my subscription"])
    assert not triggers.matched_keyword("refundable deposit?", ["refund"])
    defaults = triggers.handoff_keywords([])
    assert set(triggers.DEFAULT_HANDOFF_KEYWORDS) <= set(defaults)
    assert triggers.matched_keyword("quiero un reembolso", defaults)  # the defaults' translations
    assert not triggers.matched_keyword("how do I refund a customer?", defaults)  # the merchant's own customer
    assert triggers.handoff_keywords(["fraud"]) == ["fraud"]


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("I was charged twice on my invoice", "billing"),
        ("the bluetooth reader wont connect", "technical"),
        ("how much does the Pro plan cost?", "sales"),
        ("what are your opening hours", "general"),
    ],
)
def test_topic_classifier(text, topic):
    assert triage.classify_topic(text) == topic


def test_topics_are_configurable(settings):
    settings.ASSISTANT_TOPICS = {"hardware": {"printer": 3}, "general": {}}
    assert triage.classify_topic("my printer is broken") == "hardware"
    assert triage.classify_topic("hello there") == "general"


def test_urgency_and_sentiment():
    assert triage.urgency("URGENT: we can't take payments") == "urgent"
    assert triage.urgency("how do I print a report") == "normal"
    assert triage.sentiment("this is ridiculous, worst service ever") < 0
    assert triage.sentiment("thanks, that's great") > 0


def test_local_responder_answers_or_falls_back():
    index = KnowledgeIndex([Article(1, "Resetting your password", "Tap Forgot password. We email a link.", "reset")])
    responder = LocalResponder()
    answer = responder.answer(
        AssistantContext(message="how to reset my password", articles=tuple(index.search("how to reset my password")))
    )
    assert answer.action == "reply" and "Forgot password" in answer.reply and answer.confidence >= 0.5
    unsure = responder.answer(
        AssistantContext(message="do you sell bikes", articles=tuple(index.search("do you sell bikes")))
    )
    assert unsure.reply == FALLBACK_REPLY and unsure.confidence < 0.5


def test_summary_is_short_and_extractive():
    text = summarize(
        ["My printer stopped. It was fine yesterday. No idea why.", "My printer stopped."], topic="technical"
    )
    assert text.splitlines() == ["Topic: technical.", "My printer stopped.", "It was fine yesterday."]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I think my account was hacked", "needs_staff"),
        ("you charged me twice this month", "needs_staff"),
        ("urgent!!! terminal not working at all", "urgent"),
    ],
)
def test_local_responder_hands_off_what_only_staff_can_handle(text, reason):
    result = LocalResponder().answer(AssistantContext(message=text))
    assert (result.action, result.handoff_reason) == ("handoff", reason)


def test_typos_still_find_the_article():
    index = KnowledgeIndex([Article(1, "Payout schedule", "When money arrives.", "payout, deposit")])
    assert index.search("payot not recieved")[0].article.id == 1


@pytest.mark.parametrize(
    "text",
    [
        "could you have a colleague check my case",  # a colleague
        "who do I write to about this?",  # asking who the person is
        "happy to chat with whoever runs your partnerships",
        "supervisor please",  # a person word said as a demand
        "I'd like a call from someone tomorrow morning",  # a call back
        "can you give us a ring",
        "your replies aren't helping",  # the answers are the complaint
        "that link has nothing to do with what i asked",
        "i cannot trust a bot with this",
        "alguien ahi?",
        "y a quelqu'un ?",
        "ist da jemand?",
        "une personne au téléphone svp",
    ],
)
def test_more_ways_of_asking_for_a_person(text):
    assert triggers.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "how do I connect the printer to my phone",  # "phone" with no person word
        "who is the payout sent to if I have two bank accounts",  # "who" without reaching anyone
        "restarting the reader doesn't help, still blinking",  # a troubleshooting step, not the assistant
        "no need for a person, how do I export a report",
    ],
)
def test_near_misses_are_not_requests_for_a_person(text):
    assert not triggers.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "why are my funds on hold",
        "my deposits have been paused since monday",
        "all the money in my balance disappeared overnight",
        "cuenta bloqueada desde ayer",
        "you debited my account without permission",
        "erase all my personal data please",
        "GDPR access request for my account",
        "I want to lodge a complaint",
        "nobody has got back to me since tuesday",
        "this is the fourth time I'm contacting you about it",
    ],
)
def test_more_situations_only_staff_can_handle(text):
    assert triggers.needs_staff(text) == "needs_staff"


@pytest.mark.parametrize(
    "text",
    [
        "how long are payouts held for new accounts?",  # a question about the schedule, nothing held yet
        "my customers complain the receipts are faint",
        "how do I take a deposit for a booking",
    ],
)
def test_ordinary_money_questions_do_not_need_staff(text):
    assert triggers.needs_staff(text) == ""


def test_keywords_match_other_forms_of_the_word():
    assert triggers.matched_keyword("I want it refunded", ["refund"]) == "refund"
    assert triggers.matched_keyword("Refunds please", ["refund"]) == "refund"
    assert not triggers.matched_keyword("refundable deposit?", ["refund"])


def test_phrases_match_other_word_forms_in_the_topic_classifier():
    # "process payments" meets the term "process payment".
    assert triage.classify_topic("we cannot process payments") == "technical"


def test_a_request_for_a_person_is_not_given_the_topic_of_a_loosely_matching_article():
    index = KnowledgeIndex([Article(1, "Closing your account", "How to close an account.", "account", "billing")])
    message = "can a person look at my account"
    assert index.search(message)[0].article.topic == "billing"
    assert triage.classify_topic(message, index.search(message)) == "general"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("could an agent check my order", True),
        ("can someone look into this for me", True),
        ("can a manager approve discounts on the register?", False),  # a role in the merchant's shop
        ("can someone explain the fee on my invoice in the app", False),
    ],
)
def test_a_person_asked_to_do_something(text, expected):
    assert triggers.asks_for_person(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("im not looking for a refund, why is the fee higher", ""),
        ("no need to cancel my subscription, just pause it?", ""),
        ("I have not received my refund", "refund"),  # a complaint, not a wish taken back
        ("still no refund after two weeks", "refund"),
        ("I just want my money back", "money back"),
        ("a client asked for their money back", ""),  # the merchant's own customer
    ],
)
def test_keywords_taken_back_do_not_count(text, expected):
    assert triggers.matched_keyword(text, triggers.handoff_keywords([])) == expected


@pytest.mark.parametrize(
    "text",
    [
        "you billed me 3 times for one month",
        "I keep getting charged after closing my account",
        "there's a transaction here we never authorised",
        "I'll take this to small claims court",
        "got an email pretending to be from you asking for my bank login",
    ],
)
def test_disputes_threats_and_impersonation_need_staff(text):
    assert triggers.needs_staff(text) == "needs_staff"


@pytest.mark.parametrize(
    "text", ["necesito comunicarme con atencion al cliente", "je voudrais joindre le service client"]
)
def test_reaching_a_team_in_other_languages(text):
    assert triggers.asks_for_person(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ur just a bot right", True),
        ("j'aimerais être rappelée demain", True),
        ("que me llamen por favor", True),
        ("how do I dispute a chargeback from a customer", False),
    ],
)
def test_bot_statements_and_call_backs_in_other_languages(text, expected):
    assert triggers.asks_for_person(text) is expected


def test_disputing_our_charge_needs_staff_but_answering_a_chargeback_does_not():
    assert triggers.needs_staff("I want to dispute this fee on my statement") == "needs_staff"
    assert triggers.needs_staff("how do I dispute a chargeback from a customer") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("get me a humen", True),
        ("conect me to an agnet", True),
        ("can i speek to a represenative", True),
        ("how do I close my account completely", False),  # "close" is a word, not a typo of "closed"
        ("inventory count is off after the sync", False),  # nor "count" of "court"
        ("these reports are wrong", False),
    ],
)
def test_typos_of_a_request_for_a_person(text, expected):
    assert (triggers.customer_trigger(text, keywords=triggers.handoff_keywords([])) is not None) is expected
    assert triggers.needs_staff(text) == ""


def test_words_that_only_take_a_match_back_are_not_typo_targets():
    # "(?! (numbers|reports|address)...)" in a pattern lists words that undo a match: a typo is never read as one.
    for word in ("numbers", "reports", "address", "settings", "endpoint", "close", "their"):
        assert word not in triggers._TRIGGER_VOCABULARY
    assert triggers._words("what number do I enter") == ["what", "number", "do", "i", "enter"]
    assert {"human", "agent", "refund", "escalate", "callback"} <= triggers._TRIGGER_VOCABULARY


def test_typos_of_a_keyword():
    assert triggers.matched_keyword("my refnd never came", triggers.handoff_keywords([])) == "refund"


def test_an_upset_customer_the_knowledge_base_cannot_answer_goes_to_a_person():
    index = KnowledgeIndex(
        [Article(1, "Receipt printer not printing", "Check the paper roll. Turn it off and on.", "printer, paper")]
    )
    responder = LocalResponder()

    def answer(message: str) -> Any:
        return responder.answer(AssistantContext(message=message, articles=tuple(index.search(message))))

    upset = answer("absolutely unacceptable, 3 weeks and still nothing 😡")
    assert (upset.action, upset.handoff_reason) == ("handoff", "unhappy_unanswered")
    # Upset but answerable: the answer is the better help.
    assert answer("ugh this printer is terrible, receipt printer not printing paper").action == "reply"
    # Unanswerable but calm: the fallback asks for more.
    assert answer("do you sell bikes?").action == "reply"


@pytest.mark.parametrize(
    "text",
    [
        "I'd like to go over this with one of your staff",
        "could you hand this to someone more senior",
        "please pass me to your supervisor",
        "can we discuss it with someone on your side",
    ],
)
def test_asking_for_someone_senior_or_one_of_the_team(text):
    assert triggers.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "I didn't sign up for this add-on",
        "you overcharged us in june",
        "been waiting two hours for a reply",
        "still waiting for someone to get back to me",
    ],
)
def test_charges_not_agreed_and_long_waits_need_staff(text):
    assert triggers.needs_staff(text) == "needs_staff"


def test_other_ways_of_cancelling_or_asking_for_money_back():
    defaults = triggers.handoff_keywords([])
    assert triggers.matched_keyword("please terminate my subscription", defaults)
    assert triggers.matched_keyword("just pay me back what you took", defaults)


@pytest.mark.parametrize(
    "text",
    [
        "you billed us again after we cancelled in may",
        "our deposits have been held for 3 weeks",
        "my account was restricted with no explanation",
    ],
)
def test_charges_after_cancelling_and_unexplained_holds_need_staff(text):
    assert triggers.needs_staff(text) == "needs_staff"


def test_a_wrong_answer_is_a_complaint_about_the_assistant():
    assert triggers.asks_for_person("that's the wrong answer")


def test_singular_plural_and_verb_forms_share_a_stem():
    from routing.assistant.text import stem

    assert stem("invoices") == stem("invoice")
    assert stem("charges") == stem("charge") == stem("charged")
    assert stem("taxes") == "tax" and stem("batteries") == "battery"


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("you charged me for two readers", "billing"),
        ("the reader takes forever to charge, battery at 5%", "technical"),
    ],
)
def test_charge_as_money_or_as_a_battery(text, topic):
    assert triage.classify_topic(text) == topic


def test_a_general_article_does_not_outvote_the_messages_own_terms():
    index = KnowledgeIndex([Article(1, "Staff accounts", "Add staff and set passcodes.", "staff, passcode", "general")])
    message = "how do i reset a staff passcode"
    assert triage.classify_topic(message, index.search(message)) == "technical"
    assert triage.classify_topic("hello there", index.search("hello there")) == "general"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("how do i do a refund from the dashboard", ""),  # the merchant refunding a sale
        ("can I refund one item from a sale", ""),
        ("is there a fee for refunds?", ""),
        ("please issue a refund", "refund"),
        ("can i get a refund", "refund"),
        ("ich möchte mein Abo kündigen", "kundigen"),
        ("quero cancelar meu plano", "cancelar meu plano"),
    ],
)
def test_default_keywords_tell_a_merchants_refunds_from_a_refund_of_ours(text, expected):
    assert triggers.matched_keyword(text, triggers.handoff_keywords([])) == expected


@pytest.mark.parametrize(
    "text", ["mon compte a été piraté", "the shop was robbed last night", "why did my account get shut down"]
)
def test_break_ins_and_closed_accounts_in_other_words_need_staff(text):
    assert triggers.needs_staff(text) == "needs_staff"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("could we get transferred to billing", True),
        ("hand it over pls", True),
        ("r u even listening to me", True),
        ("vorrei parlare con un operatore", True),
        ("transmettre à un conseiller svp", True),
        # The same words about the merchant's own shop or money.
        ("can a customer get transferred to another table", False),
        ("how do i hand over the till to the next shift", False),
        ("when is my money going to be transferred", False),
        ("qualcuno sa come si fa?", False),
    ],
)
def test_being_passed_on_and_italian_requests_for_a_person(text, expected):
    assert triggers.asks_for_person(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("me cobraron dos veces la mensualidad", "needs_staff"),
        ("cette opération, je ne l'ai pas autorisé", "needs_staff"),
        ("how do i complain about your service", "needs_staff"),
        ("my payout still hasnt arrived", "needs_staff"),
        ("we havent been paid for the weekend sales", "needs_staff"),
        ("a stranger knows my password", "needs_staff"),
        ("jemand ist in mein Konto eingedrungen", "needs_staff"),
        ("when do payouts arrive", ""),
        ("can someone else on my team get a login", ""),
    ],
)
def test_money_not_arriving_and_strangers_in_the_account_need_staff(text, expected):
    assert triggers.needs_staff(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("where can I see refunds we issued today", ""),
        ("which cashier gave that refund", ""),
        ("can we refund more than the sale amount", ""),
        ("i want a refund for last month", "refund"),
    ],
)
def test_a_merchant_looking_at_their_own_refunds_is_not_asking_for_one(text, expected):
    assert triggers.matched_keyword(text, triggers.handoff_keywords([])) == expected
