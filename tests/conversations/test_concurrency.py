"""Concurrent deliveries on real PostgreSQL: nothing duplicated, nothing lost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from conversations import services
from conversations.models import ChannelIdentity, Contact, Conversation, ConversationEvent, Message
from tests import factories as f

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at the same moment; return results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def runner(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # surfaced by the assertions below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_same_channel_message_id_delivered_concurrently_is_stored_once():
    inbox = f.InboxFactory(kind="sms")

    def deliver(_: int) -> services.InboundResult:
        return services.message_receive_inbound(
            inbox=inbox, identity_kind="phone", identity_value="+14155550123", body="hello", channel_message_id="SM42"
        )

    results = run_together(6, deliver)
    assert all(isinstance(r, services.InboundResult) for r in results), results
    assert sum(r.created for r in results) == 1
    assert len({r.message.pk for r in results}) == 1
    assert Message.objects.count() == 1
    assert Contact.objects.count() == 1 and ChannelIdentity.objects.count() == 1
    assert Conversation.objects.count() == 1
    assert ConversationEvent.objects.filter(kind="message_in").count() == 1


def test_different_messages_from_a_new_contact_at_once_share_one_conversation():
    inbox = f.InboxFactory(kind="sms")

    def deliver(i: int) -> services.InboundResult:
        return services.message_receive_inbound(
            inbox=inbox,
            identity_kind="phone",
            identity_value="+14155550124",
            body=f"part {i}",
            channel_message_id=f"SM{i}",
        )

    results = run_together(6, deliver)
    assert all(isinstance(r, services.InboundResult) and r.created for r in results), results
    assert Contact.objects.count() == 1 and Conversation.objects.count() == 1
    conversation = Conversation.objects.get()
    assert conversation.message_count == 6 == Message.objects.count()
    assert ConversationEvent.objects.filter(kind="created").count() == 1
