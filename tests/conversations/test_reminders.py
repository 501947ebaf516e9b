"""Follow-up reminders: "remind me at ..." on a conversation, notified once when the clock gets there."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from conversations import reminders, tasks
from conversations.models import Notification, NotificationKind, Reminder
from conversations.realtime import user_group
from core.models import ApiToken
from tests import factories as f

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)


def api_for(user: Any) -> APIClient:
    _token, key = ApiToken.issue(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def url(conversation: Any) -> str:
    return f"/api/v1/conversations/{conversation.pk}/remind/"


def test_an_agent_sets_a_reminder_and_is_notified_when_its_time_comes(conversation, agent, live_events, committed):
    with time_machine.travel(T0, tick=False) as clock:
        response = api_for(agent).post(
            url(conversation),
            {"remind_at": "2026-06-10T15:00:00Z", "note": "Call back about the refund"},
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["remind_at"] == "2026-06-10T15:00:00Z"
        assert response.json()["fired_at"] is None
        clock.shift(timedelta(hours=4, minutes=59))
        assert reminders.run_reminders() == 0
        clock.shift(timedelta(minutes=1))
        with committed():
            assert reminders.run_reminders() == 1
        assert reminders.run_reminders() == 0  # once
    notification = Notification.objects.get(kind=NotificationKind.REMINDER)
    assert notification.recipient == agent and notification.conversation == conversation
    assert notification.title == "Reminder: Carol Customer"
    assert notification.body == "Call back about the refund"
    assert live_events.groups_of("notification.created") == [[user_group(agent.pk)]]
    assert Reminder.objects.get().fired_at == T0 + timedelta(hours=5)


def test_the_beat_task_fires_due_reminders(conversation, agent):
    assert settings.CELERY_BEAT_SCHEDULE["follow-up-reminders"]["task"] == "conversations.tasks.run_reminders"
    with time_machine.travel(T0, tick=False) as clock:
        reminders.reminder_set(conversation=conversation, user=agent, remind_at=T0 + timedelta(minutes=30))
        clock.shift(timedelta(minutes=31))
        tasks.run_reminders.delay()
    assert Notification.objects.filter(recipient=agent, kind=NotificationKind.REMINDER).count() == 1


def test_pending_reminders_are_listed_for_their_agent_only(conversation, agent, teammate):
    reminders.reminder_set(conversation=conversation, user=agent, remind_at=timezone.now() + timedelta(hours=1))
    assert [r["conversation_id"] for r in api_for(agent).get(url(conversation)).json()] == [conversation.pk]
    assert api_for(teammate).get(url(conversation)).json() == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"remind_at": "2020-01-01T00:00:00Z"}, "in the future"),
        ({"remind_at": "2099-01-01T00:00:00Z"}, "at most a year ahead"),
        ({"remind_at": "tomorrow-ish"}, "Datetime has wrong format"),
        ({}, "This field is required"),
        ({"remind_at": "2026-06-10T15:00:00Z", "note": "x" * 501}, "no more than 500 characters"),
    ],
)
def test_a_bad_reminder_is_a_400_that_says_why(conversation, agent, payload, message):
    with time_machine.travel(T0, tick=False):
        response = api_for(agent).post(url(conversation), payload, format="json")
    assert response.status_code == 400
    assert message in str(response.json())
    assert not Reminder.objects.exists()


def test_an_outsider_cannot_set_or_see_reminders_on_a_conversation_she_cannot_see(conversation, outsider):
    client = api_for(outsider)
    assert client.post(url(conversation), {"remind_at": "2099-01-01T00:00:00Z"}, format="json").status_code == 404
    assert client.get(url(conversation)).status_code == 404
    assert not Reminder.objects.exists()


def test_cancelling_is_for_the_reminders_owner(conversation, agent, teammate):
    reminder = reminders.reminder_set(
        conversation=conversation, user=agent, remind_at=timezone.now() + timedelta(hours=1)
    )
    with pytest.raises(reminders.ServiceError):
        reminders.reminder_cancel(reminder=reminder, user=teammate)
    reminders.reminder_cancel(reminder=reminder, user=agent)
    assert not Reminder.objects.exists()


def test_an_agent_cancels_her_pending_reminder_over_the_api_and_nobody_else_can(conversation, agent, teammate):
    reminder = reminders.reminder_set(
        conversation=conversation, user=agent, remind_at=timezone.now() + timedelta(hours=1)
    )
    cancel = f"{url(conversation)}{reminder.pk}/"
    assert api_for(teammate).delete(cancel).status_code == 404  # not hers: as if it did not exist
    assert api_for(agent).delete(f"{url(conversation)}{reminder.pk + 1000}/").status_code == 404
    assert Reminder.objects.filter(pk=reminder.pk).exists()
    assert api_for(agent).delete(cancel).status_code == 204
    assert not Reminder.objects.exists()
    assert api_for(agent).delete(cancel).status_code == 404
    # A reminder that fired already is history, not cancellable.
    fired = reminders.reminder_set(conversation=conversation, user=agent, remind_at=timezone.now() + timedelta(hours=1))
    Reminder.objects.filter(pk=fired.pk).update(fired_at=timezone.now())
    assert api_for(agent).delete(f"{url(conversation)}{fired.pk}/").status_code == 404
    assert Reminder.objects.filter(pk=fired.pk).exists()


def test_an_outsider_cannot_cancel_a_reminder_on_a_conversation_she_cannot_see(conversation, agent, outsider):
    reminder = reminders.reminder_set(
        conversation=conversation, user=agent, remind_at=timezone.now() + timedelta(hours=1)
    )
    assert api_for(outsider).delete(f"{url(conversation)}{reminder.pk}/").status_code == 404
    assert Reminder.objects.filter(pk=reminder.pk).exists()


def test_a_reminder_follows_the_agents_preferences(conversation, agent):
    from conversations.notifications import notification_preferences_set

    notification_preferences_set(user=agent, changes={"reminder": {"in_app": False, "email": False}})
    with time_machine.travel(T0, tick=False) as clock:
        reminders.reminder_set(conversation=conversation, user=agent, remind_at=T0 + timedelta(minutes=5))
        clock.shift(timedelta(minutes=6))
        assert reminders.run_reminders() == 1
    assert not Notification.objects.exists()
    assert Reminder.objects.get().fired_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_remind_once():
    agent = f.AgentFactory(username="rita")
    conversation = f.ConversationFactory(inbox=f.InboxFactory(members=[agent]))
    past = timezone.now() - timedelta(minutes=1)
    Reminder.objects.bulk_create(Reminder(conversation=conversation, user=agent, remind_at=past) for _ in range(20))
    barrier = threading.Barrier(2)
    results: list[int] = []

    def sweep() -> None:
        try:
            barrier.wait()
            results.append(reminders.run_reminders())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(results) == 20
    assert Notification.objects.filter(recipient=agent, kind=NotificationKind.REMINDER).count() == 20
