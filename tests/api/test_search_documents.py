"""The per-conversation search documents (migration 0008) follow every write, and searches find the same as before."""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.db import connection

from conversations import services
from conversations.models import Contact, Conversation, Message
from tests import factories as f

pytestmark = pytest.mark.postgres

WORDS = ["parcel", "refund", "bluetooth", "tap-to-pay", "invoice", "umbrella", "E204", "late", "broken", "screen"]

STALE = """
    SELECT (SELECT count(*) FROM conversations_conversation c
            LEFT JOIN conversations_conversationsearch s ON s.conversation_id = c.id
            WHERE s.document IS DISTINCT FROM inbox_conversation_document(c.id, c.contact_id)),
           (SELECT count(*) FROM conversations_conversationsearch s
            WHERE NOT EXISTS (SELECT 1 FROM conversations_conversation c WHERE c.id = s.conversation_id))
"""


def _stale() -> tuple[int, int]:
    """(conversations whose document differs from one computed afresh, documents of no conversation)."""
    with connection.cursor() as cursor:
        cursor.execute(STALE)
        row = cursor.fetchone()
    return int(row[0]), int(row[1])


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 5)))


def test_documents_follow_every_write(agent: Any, inbox: Any, sms_inbox: Any) -> None:
    rng = random.Random(3)
    for step in range(80):
        action = rng.randrange(9)
        conversations = list(Conversation.objects.all())
        conversation = rng.choice(conversations) if conversations else None
        if action <= 1 or conversation is None:
            services.message_receive_inbound(
                inbox=rng.choice([inbox, sms_inbox]),
                identity_kind="phone",
                identity_value=f"+1415555{rng.randrange(8):04d}",
                body=_sentence(rng),
                contact_name=rng.choice(["Ana Silva", "Noah Fischer", ""]),
            )
        elif action == 2:
            services.message_send_reply(conversation=conversation, author=agent, body=_sentence(rng))
        elif action == 3:
            services.note_add(conversation=conversation, author=agent, body=_sentence(rng))
        elif action == 4 and conversation.messages.exists():  # an edit, a removal: lexemes may go
            message = rng.choice(list(conversation.messages.all()))
            if rng.random() < 0.5:
                Message.objects.filter(pk=message.pk).update(body=_sentence(rng), subject=rng.choice(WORDS))
            else:
                message.delete()
        elif action == 5:
            contact = conversation.contact
            contact.name = rng.choice(["Benedikt Zed", "Ana Silva", "Olu Ade"])
            contact.save()
        elif action == 6:
            services.contact_add_identity(
                contact=conversation.contact, kind="email", value=f"someone{step}@example.org"
            )
        elif action == 7:
            others = list(Contact.objects.exclude(pk=conversation.contact_id).filter(merged_into__isnull=True))
            if others:
                services.contact_merge(source=rng.choice(others), target=conversation.contact, actor=agent)
        elif len(conversations) > 6:
            conversation.delete()
    assert Conversation.objects.count() >= 3 and Message.objects.count() >= 10
    assert _stale() == (0, 0)


def test_a_word_split_into_several_lexemes_must_be_in_one_message(api: Any, agent: Any, inbox: Any) -> None:
    """The document holds the words of all messages; a search still needs them together, as before."""
    together = f.ConversationFactory(inbox=inbox)
    apart = f.ConversationFactory(inbox=inbox)
    f.MessageFactory(conversation=together, body="tap-to-pay fails")
    f.MessageFactory(conversation=apart, body="tap to")
    f.MessageFactory(conversation=apart, body="pay")
    f.MessageFactory(conversation=apart, body="refund please")
    f.MessageFactory(conversation=together, body="please refund")

    def found(q: str) -> set[int]:
        return {row["id"] for row in api.get("/api/v1/conversations/", {"q": q}).json()["results"]}

    assert found("tap-to-pay") == {together.pk}
    assert found('"refund please"') == {apart.pk}
    assert found("refund") == {together.pk, apart.pk}
    assert found(f"#{apart.pk}") == {apart.pk}
    assert found(str(together.pk)) == {together.pk}


SPLIT_WORDS = [
    "tap-to-pay",
    "x-tap-to-pay",
    "tap-to-pay-later",
    "http://shop.example/tap-to-pay",
    "shop.example",
    "ana.silva@example.com",
    "refund,parcel",
    "E204-b",
    "#1234567",
]


def test_a_split_word_finds_what_its_messages_and_contact_hold(api: Any, agent: Any, inbox: Any) -> None:
    """Words the parser splits into a whole and its parts are decided by the whole: the same as each thread's check."""
    rng = random.Random(11)
    pieces = [*SPLIT_WORDS, "tap", "to", "pay", "later", "refund", "parcel", "E204", "b", "1234567", "ana", "silva"]
    for _ in range(30):
        contact = f.ContactFactory(name=rng.choice(["Ana Silva", "ana.silva@example.com", "Tap-to-pay Ltd", "Noah"]))
        conversation = f.ConversationFactory(inbox=inbox, contact=contact)
        for _ in range(rng.randrange(1, 4)):
            f.MessageFactory(conversation=conversation, body=" ".join(rng.sample(pieces, rng.randrange(1, 4))))
    with connection.cursor() as cursor:  # statistics: a common whole lexeme is then asked for alone
        cursor.execute("ANALYZE conversations_conversationsearch")

    def found(q: str) -> set[int]:
        response = api.get("/api/v1/conversations/", {"q": q, "page_size": 100})
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    def reference(word: str) -> set[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT c.id FROM conversations_conversation c JOIN conversations_contact ct ON ct.id = c.contact_id
                   WHERE ct.search_vector @@ plainto_tsquery('simple', %s)
                      OR EXISTS (SELECT 1 FROM conversations_message m WHERE m.conversation_id = c.id
                                 AND m.search_vector @@ plainto_tsquery('simple', %s))""",
                [word, word],
            )
            return {row[0] for row in cursor.fetchall()}

    matched = 0
    for word in SPLIT_WORDS:
        expected = reference(word)
        matched += len(expected)
        assert found(f'"{word}"') == expected, word
    assert matched > 30  # the corpus exercises the words


@pytest.mark.django_db(transaction=True)
def test_emptying_the_conversations_empties_their_documents(inbox: Any) -> None:
    """Django's flush (TRUNCATE) fires no row trigger: documents of vanished conversations must go too."""
    services.message_receive_inbound(
        inbox=inbox, identity_kind="phone", identity_value="+14155550001", body="parcel refund", contact_name=""
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM conversations_conversationsearch")
        assert cursor.fetchone()[0] == 1
        cursor.execute("TRUNCATE conversations_conversation CASCADE")
        cursor.execute("SELECT count(*) FROM conversations_conversationsearch")
        assert cursor.fetchone()[0] == 0
