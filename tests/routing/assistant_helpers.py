"""Shared set-up for the assistant tests: a small knowledge base and a customer who writes in."""

from __future__ import annotations

from typing import Any

from conversations import services
from conversations.models import Message
from routing.models import KnowledgeArticle
from routing.tasks import process_inbound_message

ARTICLES = [
    (
        "Resetting your password",
        "technical",
        "password, reset, forgot, login, sign in, locked out",
        "Go to the sign-in page and tap Forgot password. We email you a reset link that works once and expires "
        "after 1 hour. After 5 wrong passwords your account is locked for 30 minutes. Reset emails come from "
        "no-reply@acme.example, see https://help.acme.example/password for screenshots.",
    ),
    (
        "When will I get paid? The payout schedule",
        "billing",
        "payout, paid, deposit, bank, transfer, schedule",
        "Payouts arrive the next business day for card payments taken before 5pm. Weekend payments are paid out "
        "on Monday. You can see every payout under Reports, Payouts.",
    ),
    (
        "Comparing plans: Starter, Growth and Pro",
        "sales",
        "plans, pricing, price, cost, starter, growth, pro",
        "Starter is free. Growth is $29 a month per location and Pro is $79 a month per location. Card fees are "
        "the same on every plan.",
    ),
    (
        "Receipt printer not printing",
        "technical",
        "printer, receipt, paper, print",
        "Check the paper roll is inserted with the shiny side facing the print head. Turn the printer off and on, "
        "then print a test page from Settings, Hardware.",
    ),
]


def make_articles(inbox: Any = None) -> list[KnowledgeArticle]:
    return [
        KnowledgeArticle.objects.create(title=title, topic=topic, keywords=keywords, body=body, inbox=inbox)
        for title, topic, keywords, body in ARTICLES
    ]


def customer_writes(inbox: Any, body: str, *, who: str = "carol@example.com", **kwargs: Any) -> Message:
    """The customer's message, stored the way every channel stores it."""
    return services.message_receive_inbound(
        inbox=inbox, identity_kind="email", identity_value=who, body=body, contact_name="Carol", **kwargs
    ).message


def assistant_turn(message: Message) -> str:
    """What the lead wires after the inbound service: the task, run through Celery (eager in tests)."""
    return str(process_inbound_message.delay(message.pk).get())


def customer_visible_outbound(conversation: Any) -> list[Message]:
    return list(conversation.messages.filter(direction="out", is_private_note=False).order_by("pk"))
