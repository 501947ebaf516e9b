"""Notifications: who hears of what, in the app and by email, as each agent chose; never the one who acted."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from rest_framework.test import APIClient

from conversations import notifications, realtime, services
from conversations.models import Conversation, Notification, NotificationKind, Priority
from conversations.realtime import inbox_group, user_group
from conversations.tasks import notify_new_conversation
from core.models import ApiToken, OutboxEntry, OutboxState
from routing import services as assistant_services
from tests import factories as f

pytestmark = pytest.mark.django_db

PREFERENCES_URL = "/api/v1/notifications/preferences/"


def receive(inbox: Any, body: str = "Hello there", phone: str = "+14155550210") -> Conversation:
    return services.message_receive_inbound(
        inbox=inbox, identity_kind="phone", identity_value=phone, body=body, contact_name="Carol"
    ).message.conversation


def told(kind: str) -> set[int]:
    return set(Notification.objects.filter(kind=kind).values_list("recipient_id", flat=True))


def choose(user: Any, kind: str, *, in_app: bool, email: bool) -> None:
    notifications.notification_preferences_set(user=user, changes={kind: {"in_app": in_app, "email": email}})


def api_for(user: Any) -> APIClient:
    _token, key = ApiToken.issue(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- Who hears of what ----------------------------------------------------------------------


def test_a_new_conversation_notifies_the_inbox_members_live(
    sms_inbox, agent, teammate, outsider, live_events, committed
):
    with committed():
        conversation = receive(sms_inbox)
    assert told(NotificationKind.NEW_CONVERSATION) == {agent.pk, teammate.pk}
    notification = Notification.objects.get(recipient=agent, kind=NotificationKind.NEW_CONVERSATION)
    assert notification.conversation == conversation
    assert notification.title == "New conversation from Carol (SMS line)"
    assert notification.body == "Hello there"
    sent = live_events.of_type("notification.created")  # each checked against its schema by the fixture
    assert sorted(live_events.groups_of("notification.created")) == [[user_group(agent.pk)], [user_group(teammate.pk)]]
    # All in the inbox group's one message, each socket forwarding its own user's (realtime.Personal).
    assert {group.via for [group] in live_events.groups_of("notification.created")} == {inbox_group(sms_inbox.pk)}
    assert {e["notification"]["kind"] for e in sent} == {"new_conversation"}
    assert {e["notification"]["conversation_id"] for e in sent} == {conversation.pk}


def test_a_new_conversation_is_notified_by_the_worker_after_commit_not_in_the_webhook(
    sms_inbox, agent, teammate, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        conversation = receive(sms_inbox)
    # The customer's request wrote the promise, not the 2 (or 200) notifications.
    assert told(NotificationKind.NEW_CONVERSATION) == set()
    entry = OutboxEntry.objects.get(task_name="conversations.tasks.notify_new_conversation")
    assert entry.args == [conversation.pk, "Hello there"]
    for callback in callbacks:  # the commit: published, run by the (eager) worker
        callback()
    assert told(NotificationKind.NEW_CONVERSATION) == {agent.pk, teammate.pk}
    entry.refresh_from_db()
    assert entry.state == OutboxState.DONE


def test_the_new_conversation_notification_is_made_once_however_often_its_task_runs(
    sms_inbox, agent, teammate, live_events
):
    conversation = receive(sms_inbox)  # not committed: nothing made yet
    for _run in range(3):  # a run after one whose worker died before the outbox recorded it done, say
        with transaction.atomic():
            notify_new_conversation.run(conversation.pk, "Hello there")
    assert Notification.objects.filter(kind=NotificationKind.NEW_CONVERSATION).count() == 2
    assert told(NotificationKind.NEW_CONVERSATION) == {agent.pk, teammate.pk}


def test_a_follow_up_or_a_retried_delivery_promises_no_second_new_conversation_notification(
    sms_inbox, agent, teammate, committed
):
    with committed():
        receive(sms_inbox, body="First")
        receive(sms_inbox, body="Second")
        for _ in range(2):
            services.message_receive_inbound(
                inbox=sms_inbox,
                identity_kind="phone",
                identity_value="+14155550299",
                body="Retried",
                channel_message_id="SM-retried",
            )
    assert OutboxEntry.objects.filter(task_name="conversations.tasks.notify_new_conversation").count() == 2
    assert Notification.objects.filter(kind=NotificationKind.NEW_CONVERSATION).count() == 4  # 2 conversations x 2


def test_a_muted_import_promises_no_new_conversation_notification(sms_inbox, agent, committed):
    with committed(), realtime.muted():
        receive(sms_inbox)
    assert not OutboxEntry.objects.filter(task_name="conversations.tasks.notify_new_conversation").exists()
    assert told(NotificationKind.NEW_CONVERSATION) == set()


def test_assigning_notifies_the_assignee_but_not_an_agent_who_assigns_herself(sms_inbox, agent, teammate):
    conversation = receive(sms_inbox)
    services.conversation_assign(conversation=conversation, assignee=agent, actor=teammate)
    assert told(NotificationKind.ASSIGNED) == {agent.pk}
    services.conversation_assign(conversation=conversation, assignee=teammate, actor=teammate)
    assert told(NotificationKind.ASSIGNED) == {agent.pk}
    services.message_send_reply(conversation=receive(sms_inbox, phone="+14155550211"), author=teammate, body="Hi")
    assert told(NotificationKind.ASSIGNED) == {agent.pk}  # replying assigns it to her: she knows


def test_routing_assigning_notifies_the_assignee(sms_inbox, agent):
    conversation = receive(sms_inbox)
    services.conversation_assign(conversation=conversation, assignee=agent, actor=None)
    assert told(NotificationKind.ASSIGNED) == {agent.pk}


def test_a_customer_reply_notifies_the_assignee_only(sms_inbox, agent, teammate):
    conversation = receive(sms_inbox)
    services.conversation_assign(conversation=conversation, assignee=agent, actor=None)
    receive(sms_inbox, "Any news?")
    assert told(NotificationKind.CUSTOMER_REPLIED) == {agent.pk}
    reply = Notification.objects.get(kind=NotificationKind.CUSTOMER_REPLIED)
    assert (reply.title, reply.body) == ("Carol replied", "Any news?")


def test_nobody_is_told_of_a_reply_to_an_unassigned_conversation(sms_inbox):
    receive(sms_inbox)
    receive(sms_inbox, "Hello?")
    assert told(NotificationKind.CUSTOMER_REPLIED) == set()


def test_an_urgent_conversation_notifies_its_team_but_not_who_raised_it(sms_inbox, agent, teammate, supervisor):
    conversation = receive(sms_inbox)
    services.conversation_set_priority(
        conversation=conversation, priority="urgent", actor=teammate, reason="Their shop is down"
    )
    assert told(NotificationKind.URGENT) == {agent.pk}
    Notification.objects.all().delete()
    services.conversation_set_priority(conversation=conversation, priority=Priority.HIGH, actor=None)
    assert told(NotificationKind.URGENT) == set()


def test_a_handoff_notifies_the_team_while_nobody_has_it(sms_inbox, agent, teammate, committed):
    conversation = receive(sms_inbox, "I need a human")
    message = conversation.messages.get()
    with committed():
        assistant_services.assistant_handoff(conversation=conversation, reason="asked_for_human", for_message=message)
    assert told(NotificationKind.HANDOFF) == {agent.pk, teammate.pk}
    assert Notification.objects.filter(kind=NotificationKind.HANDOFF).first().title == (
        "Handed off by the assistant: Carol"
    )


def test_a_handoff_of_an_assigned_conversation_notifies_only_its_assignee(sms_inbox, agent, teammate, committed):
    conversation = receive(sms_inbox, "I need a human")
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent)
    with committed():
        assistant_services.assistant_handoff(conversation=conversation, reason="keyword")
    assert told(NotificationKind.HANDOFF) == {agent.pk}


def test_inactive_users_and_unknown_kinds_are_refused(sms_inbox, agent, teammate, committed):
    agent.is_active = False
    agent.save()
    with committed():
        conversation = receive(sms_inbox)
    assert told(NotificationKind.NEW_CONVERSATION) == {teammate.pk}
    with pytest.raises(ValueError, match="unknown notification kind"):
        notifications.notify(recipient_ids=[1], kind="gossip", conversation=conversation, actor=None, title="x")


# --- In the app and by email, as each chose ---------------------------------------------------


def test_each_agent_chooses_in_app_and_email_separately(sms_inbox, agent, teammate, django_capture_on_commit_callbacks):
    choose(agent, NotificationKind.ASSIGNED, in_app=False, email=True)
    choose(teammate, NotificationKind.ASSIGNED, in_app=True, email=False)
    conversation = receive(sms_inbox)
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_assign(conversation=conversation, assignee=agent, actor=None)
        services.conversation_assign(conversation=conversation, assignee=teammate, actor=None)
    assert told(NotificationKind.ASSIGNED) == {teammate.pk}
    assert [m.to for m in mail.outbox] == [[agent.email]]
    assert mail.outbox[0].subject == "Assigned to you: Carol"
    assert f"/inbox/c/{conversation.pk}/" in mail.outbox[0].body  # the page that opens it


def test_the_default_emails_an_assignment_and_records_it(sms_inbox, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        conversation = receive(sms_inbox)
        services.conversation_assign(conversation=conversation, assignee=agent, actor=None)
    assert [m.to for m in mail.outbox] == [[agent.email]]
    assert Notification.objects.get(kind=NotificationKind.ASSIGNED).emailed_at is not None
    # New conversations are in-app only by default.
    assert Notification.objects.get(recipient=agent, kind=NotificationKind.NEW_CONVERSATION).emailed_at is None


def test_email_goes_only_after_the_commit(sms_inbox, agent, django_capture_on_commit_callbacks):
    conversation = receive(sms_inbox)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.conversation_assign(conversation=conversation, assignee=agent, actor=None)
    assert mail.outbox == []  # a rolled-back assignment would never have mailed anyone
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1


def test_a_type_turned_off_entirely_is_neither_listed_nor_mailed(sms_inbox, agent, teammate, live_events, committed):
    choose(agent, NotificationKind.NEW_CONVERSATION, in_app=False, email=False)
    with committed():
        receive(sms_inbox)
    assert told(NotificationKind.NEW_CONVERSATION) == {teammate.pk}
    assert live_events.groups_of("notification.created") == [[user_group(teammate.pk)]]
    assert mail.outbox == []


def test_an_agent_without_an_email_address_still_gets_the_in_app_notification(sms_inbox, agent, committed):
    agent.email = ""
    agent.save()
    with committed():
        services.conversation_assign(conversation=receive(sms_inbox), assignee=agent, actor=None)
    assert told(NotificationKind.ASSIGNED) == {agent.pk}
    assert mail.outbox == []


# --- The API: the list and your preferences ----------------------------------------------------


def test_notifications_made_by_a_change_are_in_the_recipients_list_only(
    sms_inbox, agent, teammate, outsider, committed
):
    with committed():
        services.conversation_assign(conversation=receive(sms_inbox), assignee=agent, actor=teammate)
    kinds = [n["kind"] for n in api_for(agent).get("/api/v1/notifications/").json()["results"]]
    assert sorted(kinds) == ["assigned", "new_conversation"]
    assert api_for(outsider).get("/api/v1/notifications/").json()["results"] == []


def test_preferences_list_every_type_with_the_defaults(agent):
    body = api_for(agent).get(PREFERENCES_URL).json()
    assert set(body) == set(NotificationKind.values)
    assert body["assigned"] == {"in_app": True, "email": True}
    assert body["new_conversation"] == {"in_app": True, "email": False}


def test_changing_one_preference_keeps_the_others(agent, teammate):
    client = api_for(agent)
    response = client.patch(PREFERENCES_URL, {"sla_warning": {"email": True}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["sla_warning"] == {"in_app": True, "email": True}
    assert response.json()["assigned"] == {"in_app": True, "email": True}
    agent.agent_profile.refresh_from_db()
    assert agent.agent_profile.wants("sla_warning", "email")
    assert not teammate.agent_profile.wants("sla_warning", "email")  # only her own


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"gossip": {"email": True}}, "Unknown notification types: gossip"),
        ({"assigned": {"email": "perhaps"}}, "Must be a valid boolean"),
        (["assigned"], "Invalid data"),
    ],
)
def test_bad_preferences_are_a_400_that_says_why(agent, payload, message):
    response = api_for(agent).put(PREFERENCES_URL, payload, format="json")
    assert response.status_code == 400
    assert message in str(response.json())


def test_preferences_need_a_login(db):
    assert APIClient().get(PREFERENCES_URL).status_code in (401, 403)


def test_a_user_without_an_agent_profile_can_set_preferences(db):
    user = f.UserFactory(username="viewer")
    response = api_for(user).patch(PREFERENCES_URL, {"urgent": {"in_app": False}}, format="json")
    assert response.status_code == 200
    assert response.json()["urgent"] == {"in_app": False, "email": True}


def test_importing_history_notifies_nobody(sms_inbox, agent, django_capture_on_commit_callbacks):
    from conversations import realtime

    with django_capture_on_commit_callbacks(execute=True), realtime.muted():
        services.conversation_assign(conversation=receive(sms_inbox), assignee=agent, actor=None)
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_many_recipients_are_told_in_one_batch_with_bounded_concurrency() -> None:
    """A notification to hundreds of agents: every one sent, never more at once than the layer's pool allows."""
    from asgiref.sync import async_to_sync

    from conversations import realtime

    class Layer:
        def __init__(self) -> None:
            self.in_flight = self.most = 0
            self.sent: list[str] = []

        async def group_send(self, group: str, message: dict[str, Any]) -> None:
            import asyncio

            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            await asyncio.sleep(0.001)
            self.sent.append(group)
            self.in_flight -= 1

    layer = Layer()
    events = [({"type": "notification.created", "n": n}, [user_group(n)]) for n in range(200)]
    async_to_sync(realtime._send_all)(layer, events)
    assert sorted(layer.sent) == sorted(user_group(n) for n in range(200))
    assert 1 < layer.most <= realtime.SEND_CONCURRENCY
