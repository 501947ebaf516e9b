"""Auto-status timers, tested by moving the clock (never by sleeping)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from conversations import services, timers
from conversations.models import Conversation, ConversationEvent, EventKind, Status
from tests import factories as f

pytestmark = pytest.mark.django_db


def receive(inbox: Any, phone: str = "+14155550160") -> Conversation:
    return services.message_receive_inbound(
        inbox=inbox, identity_kind="phone", identity_value=phone, body="hello"
    ).message.conversation


def status_events(conversation: Conversation) -> list[dict[str, Any]]:
    return [e.data for e in ConversationEvent.objects.filter(conversation=conversation, kind=EventKind.STATUS)]


def test_an_idle_active_conversation_becomes_pending_after_the_inbox_timeout(sms_inbox):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        conversation = receive(sms_inbox)
        clock.shift(timedelta(minutes=59))
        assert timers.run_status_timers()["pending"] == 0
        clock.shift(timedelta(minutes=2))
        assert timers.run_status_timers()["pending"] == 1
    conversation.refresh_from_db()
    assert conversation.status == Status.PENDING
    assert status_events(conversation) == [{"from": "active", "to": "pending", "reason": "timer:no_new_message"}]


def test_each_inbox_has_its_own_timeout(sms_inbox, agent):
    patient = f.InboxFactory(kind="sms", members=[agent], pending_after_minutes=240)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        quick = receive(sms_inbox, "+14155550161")
        slow = receive(patient, "+14155550162")
        clock.shift(timedelta(minutes=90))
        timers.run_status_timers()
    quick.refresh_from_db()
    slow.refresh_from_db()
    assert quick.status == Status.PENDING and slow.status == Status.ACTIVE


def test_a_new_customer_message_keeps_it_active(sms_inbox):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        conversation = receive(sms_inbox)
        clock.shift(timedelta(minutes=50))
        receive(sms_inbox)
        clock.shift(timedelta(minutes=50))
        timers.run_status_timers()
    conversation.refresh_from_db()
    assert conversation.status == Status.ACTIVE


def test_a_resolved_conversation_is_archived_after_the_delay(sms_inbox, agent):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        conversation = receive(sms_inbox)
        services.conversation_set_status(conversation=conversation, status=Status.RESOLVED, actor=agent)
        clock.shift(timedelta(days=6, hours=23))
        assert timers.run_status_timers()["archived"] == 0
        clock.shift(timedelta(hours=2))
        assert timers.run_status_timers()["archived"] == 1
    conversation.refresh_from_db()
    assert conversation.status == Status.ARCHIVED
    assert status_events(conversation)[-1] == {"from": "resolved", "to": "archived", "reason": "timer:archive_delay"}


def test_a_snoozed_conversation_wakes_at_its_time(sms_inbox, agent):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        conversation = receive(sms_inbox)
        services.conversation_snooze(conversation=conversation, until=timezone.now() + timedelta(hours=3), actor=agent)
        clock.shift(timedelta(hours=2, minutes=59))
        assert timers.run_status_timers()["woken"] == 0
        clock.shift(timedelta(minutes=2))
        assert timers.run_status_timers()["woken"] == 1
    conversation.refresh_from_db()
    assert conversation.status == Status.ACTIVE and conversation.snoozed_until is None


def test_the_sweep_task_runs_the_timers(sms_inbox):
    from conversations.tasks import run_status_timers

    with time_machine.travel(timezone.now(), tick=False) as clock:
        conversation = receive(sms_inbox)
        clock.shift(timedelta(hours=2))
        run_status_timers.delay()
    conversation.refresh_from_db()
    assert conversation.status == Status.PENDING


def test_sweeps_take_bounded_batches(sms_inbox, monkeypatch):
    monkeypatch.setattr(timers, "BATCH_SIZE", 3)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for i in range(7):
            receive(sms_inbox, f"+1415555017{i}")
        clock.shift(timedelta(hours=2))
        assert timers.run_status_timers()["pending"] == 7
    assert not Conversation.objects.filter(status=Status.ACTIVE).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_move_each_conversation_once():
    inbox = f.InboxFactory(kind="sms")
    start = timezone.now() - timedelta(hours=3)
    with time_machine.travel(start, tick=False):
        conversations = [receive(inbox, f"+1415555018{i}") for i in range(10)]
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def sweep() -> None:
        try:
            barrier.wait()
            results.append(timers.run_status_timers()["pending"])
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(results) == 10
    for conversation in conversations:
        assert len(status_events(conversation)) == 1
