"""Every service: the rows it writes, the event it records, the live event it broadcasts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from conversations import services
from conversations.models import (
    ChannelIdentity,
    Contact,
    Conversation,
    ConversationEvent,
    ConversationRead,
    DeliveryStatus,
    EventKind,
    Handler,
    Message,
    Priority,
    Status,
)
from conversations.realtime import inbox_group, visitor_group
from tests import factories as f

pytestmark = pytest.mark.django_db


def events_of(conversation: Conversation, kind: str) -> list[ConversationEvent]:
    return list(ConversationEvent.objects.filter(conversation=conversation, kind=kind))


def receive(inbox: Any, phone: str = "+14155550100", body: str = "Hi there", **kwargs: Any) -> Any:
    return services.message_receive_inbound(
        inbox=inbox, identity_kind="phone", identity_value=phone, body=body, **kwargs
    )


# --- Inbound ----------------------------------------------------------------------------------


def test_first_message_creates_contact_identity_conversation_and_events(sms_inbox, live_events, committed):
    with committed():
        result = receive(sms_inbox, phone="(415) 555-0100", contact_name="Dana", channel_message_id="SM1")
    message = result.message
    assert result.created
    conversation = message.conversation
    identity = ChannelIdentity.objects.get()
    assert identity.value == "+14155550100" and identity.contact.name == "Dana"
    assert conversation.contact == identity.contact
    assert conversation.status == Status.ACTIVE and conversation.handler == Handler.BOT
    assert conversation.team == sms_inbox.default_team
    assert conversation.last_message_preview == "Hi there"
    assert conversation.message_count == 1
    assert conversation.waiting_since == message.created_at
    assert [e.kind for e in conversation.events.all()] == [EventKind.CREATED, EventKind.MESSAGE_IN]
    # The inbox's two members hear of the new conversation (tests/conversations/test_notifications.py).
    assert live_events.types == [
        "conversation.created",
        "message.created",
        "notification.created",
        "notification.created",
    ]
    assert live_events.groups_of("message.created") == [[inbox_group(sms_inbox.pk)]]


def test_duplicate_message_sid_creates_one_message(sms_inbox, live_events, committed):
    with committed():
        first = receive(sms_inbox, channel_message_id="SM-dup")
    live_events.clear()
    with committed():
        second = receive(sms_inbox, channel_message_id="SM-dup", body="retried delivery")
    assert not second.created
    assert second.message.pk == first.message.pk
    assert Message.objects.count() == 1
    assert live_events.sent == []


def test_a_retried_delivery_changes_nothing_it_would_have_changed(sms_inbox, agent, live_events, committed):
    # Its INSERT refuses it after the conversation was reopened and the contact named: all rolled back.
    first = receive(sms_inbox, channel_message_id="SM-late", phone="+14155550177").message
    conversation = first.conversation
    services.conversation_set_status(conversation=conversation, status=Status.RESOLVED, actor=agent)
    events_before = ConversationEvent.objects.count()
    live_events.clear()
    with committed():
        again = receive(
            sms_inbox, channel_message_id="SM-late", phone="+14155550177", contact_name="Renamed", body="late retry"
        )
    assert not again.created and again.message.pk == first.pk
    conversation.refresh_from_db()
    assert conversation.status == Status.RESOLVED and conversation.message_count == 1
    assert conversation.contact.name != "Renamed"
    assert ConversationEvent.objects.count() == events_before
    assert live_events.sent == []


def test_same_channel_id_in_another_inbox_is_a_different_message(sms_inbox, agent):
    other = f.InboxFactory(kind="sms", members=[agent])
    receive(sms_inbox, channel_message_id="SM-x")
    receive(other, channel_message_id="SM-x")
    assert Message.objects.count() == 2


def test_second_message_joins_the_open_conversation(sms_inbox):
    first = receive(sms_inbox, body="one").message
    second = receive(sms_inbox, phone="+1 415 555 0100", body="two").message
    assert second.conversation_id == first.conversation_id
    conversation = Conversation.objects.get()
    assert conversation.message_count == 2 and conversation.last_message_preview == "two"
    assert conversation.waiting_since == first.created_at  # still waiting since the first unanswered one


@pytest.mark.parametrize("closed", [Status.RESOLVED, Status.ARCHIVED])
def test_customer_message_reopens_a_closed_conversation(sms_inbox, agent, closed, live_events, committed):
    conversation = receive(sms_inbox).message.conversation
    services.conversation_set_status(conversation=conversation, status=closed, actor=agent)
    live_events.clear()
    with committed():
        message = receive(sms_inbox, body="it broke again").message
    conversation.refresh_from_db()
    assert message.conversation_id == conversation.pk
    assert conversation.status == Status.ACTIVE and conversation.resolved_at is None
    reopen = events_of(conversation, EventKind.STATUS)[-1]
    assert reopen.data == {"from": closed, "to": "active", "reason": "customer_message"}
    assert "status" in live_events.of_type("conversation.updated")[0]["changes"]


def test_same_person_on_another_channel_is_the_same_contact(sms_inbox, agent):
    whatsapp = f.InboxFactory(kind="whatsapp", members=[agent])
    sms = receive(sms_inbox, phone="+14155550100").message
    services.contact_add_identity(contact=sms.conversation.contact, kind="whatsapp", value="whatsapp:+14155550100")
    wa = services.message_receive_inbound(
        inbox=whatsapp, identity_kind="whatsapp", identity_value="whatsapp:+14155550100", body="hola"
    ).message
    assert wa.conversation.contact_id == sms.conversation.contact_id
    assert wa.conversation_id != sms.conversation_id
    assert Contact.objects.count() == 1


def test_invalid_identity_is_refused_and_stores_nothing(sms_inbox):
    with pytest.raises(services.ServiceError, match="not a phone number"):
        receive(sms_inbox, phone="call me maybe")
    assert not Contact.objects.exists() and not Message.objects.exists()


def test_empty_inbound_message_is_refused(sms_inbox):
    with pytest.raises(services.ServiceError, match="empty"):
        receive(sms_inbox, body="   ")
    assert not Conversation.objects.exists()


def test_inbound_attachments_are_stored_with_safe_names(sms_inbox, live_events, committed):
    attachment = services.InboundAttachment(
        filename="../../etc/pass\u200bwd.png", content_type="image/png", content=b"png"
    )
    with committed():
        message = receive(sms_inbox, attachments=[attachment]).message
    stored = message.attachments.get()
    assert stored.filename == "passwd.png" and stored.size == 3
    assert stored.file.read() == b"png"
    # The live message lists them (known as they were stored, not read back).
    (created,) = live_events.of_type("message.created")
    assert [a["filename"] for a in created["message"]["attachments"]] == ["passwd.png"]


def test_email_thread_from_another_contact_is_not_joined(agent):
    email = f.InboxFactory(kind="email", members=[agent])
    alice = services.message_receive_inbound(
        inbox=email, identity_kind="email", identity_value="Alice@Example.com", body="help", subject="Order"
    ).message
    stranger = services.message_receive_inbound(
        inbox=email,
        identity_kind="email",
        identity_value="eve@evil.test",
        body="let me in",
        conversation=alice.conversation,
    ).message
    assert stranger.conversation_id != alice.conversation_id
    assert ChannelIdentity.objects.get(contact=alice.conversation.contact).value == "alice@example.com"


def test_new_email_subject_can_start_a_new_conversation(agent):
    email = f.InboxFactory(kind="email", members=[agent])
    first = services.message_receive_inbound(
        inbox=email, identity_kind="email", identity_value="a@example.com", body="one", subject="Order"
    ).message
    second = services.message_receive_inbound(
        inbox=email,
        identity_kind="email",
        identity_value="a@example.com",
        body="two",
        subject="Invoice",
        start_new_conversation=True,
    ).message
    assert first.conversation_id != second.conversation_id


# --- Replies and notes ------------------------------------------------------------------------


def test_reply_is_queued_then_sent_after_commit(inbox, agent, live_events, committed):
    conversation = services.message_receive_inbound(
        inbox=inbox, identity_kind="web_visitor", identity_value="visitor-1", body="hello?"
    ).message.conversation
    live_events.clear()
    with committed():
        reply = services.message_send_reply(conversation=conversation, author=agent, body="Hi! How can I help?")
        assert Message.objects.get(pk=reply.pk).delivery_status == DeliveryStatus.QUEUED
    reply.refresh_from_db()
    conversation.refresh_from_db()
    # The web chat transport delivers through the live socket, so the task marks it delivered.
    assert reply.delivery_status == DeliveryStatus.DELIVERED
    assert conversation.first_response_at == reply.created_at
    assert conversation.waiting_since is None
    assert conversation.handler == Handler.HUMAN and conversation.assignee == agent
    assert [e.kind for e in conversation.events.all()] == [
        EventKind.CREATED,
        EventKind.MESSAGE_IN,
        EventKind.HANDOFF,
        EventKind.ASSIGNED,
        EventKind.MESSAGE_OUT,
        EventKind.DELIVERY,
    ]
    created = live_events.of_type("message.created")[0]
    assert created["message"]["body"] == "Hi! How can I help?" and created["message"]["sender_kind"] == "agent"
    assert live_events.groups_of("message.created")[0] == [inbox_group(inbox.pk), visitor_group(conversation.pk)]
    assert live_events.of_type("message.updated")[-1]["message"]["delivery_status"] == "delivered"


def test_reply_on_a_channel_without_transport_fails_visibly(agent, committed):
    voice = f.InboxFactory(kind="voice", members=[agent])
    conversation = receive(voice).message.conversation
    with committed():
        reply = services.message_send_reply(conversation=conversation, author=agent, body="hello")
    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.FAILED
    assert "not available" in reply.delivery_error


def test_outsider_cannot_reply(conversation, outsider):
    with pytest.raises(services.ServiceError, match="not a member"):
        services.message_send_reply(conversation=conversation, author=outsider, body="hi")
    assert not conversation.messages.exists()


def test_empty_reply_is_refused(conversation, agent):
    with pytest.raises(services.ServiceError):
        services.message_send_reply(conversation=conversation, author=agent, body="  ")


def test_private_note_never_reaches_the_customer(conversation, agent, live_events, committed):
    with committed():
        note = services.note_add(conversation=conversation, author=agent, body="VIP, be nice")
    assert note.is_private_note and note.delivery_status == ""
    assert events_of(conversation, EventKind.NOTE)[0].message == note
    assert live_events.groups_of("message.created") == [[inbox_group(conversation.inbox_id)]]
    conversation.refresh_from_db()
    assert conversation.last_message_preview == "Hello"  # notes do not become the preview
    assert conversation.message_count == 0


def test_delivery_status_only_moves_forward(conversation, agent, live_events, committed):
    message = f.MessageFactory(
        conversation=conversation, direction="out", sender_kind="agent", delivery_status=DeliveryStatus.QUEUED
    )
    with committed():
        assert services.message_update_delivery_status(message=message, status="delivered")
        assert not services.message_update_delivery_status(message=message, status="sent")
        assert not services.message_update_delivery_status(message=message, status="failed", error="late")
        assert services.message_update_delivery_status(message=message, status="read")
    message.refresh_from_db()
    assert message.delivery_status == "read" and message.delivery_error == ""
    assert [e.data["status"] for e in events_of(conversation, EventKind.DELIVERY)] == ["delivered", "read"]
    assert [e["message"]["delivery_status"] for e in live_events.of_type("message.updated")] == ["delivered", "read"]


def test_unknown_delivery_status_is_refused(conversation):
    message = f.MessageFactory(
        conversation=conversation, direction="out", sender_kind="agent", delivery_status="queued"
    )
    with pytest.raises(services.ServiceError):
        services.message_update_delivery_status(message=message, status="teleported")


# --- Assignment and transfer ------------------------------------------------------------------


def test_assign_records_event_hands_off_and_broadcasts(conversation, agent, teammate, live_events, committed):
    Conversation.objects.filter(pk=conversation.pk).update(handler=Handler.BOT)
    with committed():
        services.conversation_assign(conversation=conversation, assignee=teammate, actor=agent)
    conversation.refresh_from_db()
    assert conversation.assignee == teammate and conversation.handler == Handler.HUMAN
    assert conversation.assigned_at is not None
    assigned = events_of(conversation, EventKind.ASSIGNED)[0]
    assert assigned.actor == agent and assigned.data == {"from": None, "to": teammate.pk}
    assert events_of(conversation, EventKind.HANDOFF)[0].data == {"reason": "assigned"}
    update = live_events.of_type("conversation.updated")[0]
    assert update["conversation"]["assignee_id"] == teammate.pk
    assert set(update["changes"]) >= {"assignee", "handler"}


def test_unassign(conversation, agent, committed, live_events):
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent)
    with committed():
        services.conversation_assign(conversation=conversation, assignee=None, actor=agent)
    conversation.refresh_from_db()
    assert conversation.assignee is None
    assert events_of(conversation, EventKind.UNASSIGNED)[0].data == {"from": agent.pk}


def test_assigning_an_outsider_is_refused(conversation, agent, outsider):
    with pytest.raises(services.ServiceError, match="not a member"):
        services.conversation_assign(conversation=conversation, assignee=outsider, actor=agent)
    conversation.refresh_from_db()
    assert conversation.assignee is None and not events_of(conversation, EventKind.ASSIGNED)


def test_supervisor_can_be_assigned_anywhere(conversation, supervisor):
    services.conversation_assign(conversation=conversation, assignee=supervisor, actor=supervisor)
    conversation.refresh_from_db()
    assert conversation.assignee == supervisor


def test_assigning_the_same_agent_twice_records_once(conversation, agent):
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent)
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent)
    assert len(events_of(conversation, EventKind.ASSIGNED)) == 1


def test_transfer_to_team_clears_assignee_and_keeps_note_private(conversation, agent, live_events, committed):
    billing = f.TeamFactory(name="Billing")
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent)
    with committed():
        services.conversation_transfer(conversation=conversation, team=billing, actor=agent, note="Refund question")
    conversation.refresh_from_db()
    assert conversation.team == billing and conversation.assignee is None
    transfer = events_of(conversation, EventKind.TRANSFERRED)[0]
    assert transfer.data["to_team"] == billing.pk and transfer.data["note"] == "Refund question"
    note = conversation.messages.get()
    assert note.is_private_note and note.body == "Refund question"
    assert all(group == [inbox_group(conversation.inbox_id)] for group in live_events.groups_of("message.created"))


def test_transfer_to_an_agent_outside_the_team_is_refused(conversation, agent, teammate):
    billing = f.TeamFactory(name="Billing")
    with pytest.raises(services.ServiceError, match="not in the team"):
        services.conversation_transfer(conversation=conversation, team=billing, actor=agent, assignee=teammate)


def test_transfer_to_an_agent_of_the_team(conversation, agent, teammate):
    billing = f.TeamFactory(name="Billing")
    teammate.agent_profile.teams.add(billing)
    services.conversation_transfer(conversation=conversation, team=billing, actor=agent, assignee=teammate)
    conversation.refresh_from_db()
    assert conversation.team == billing and conversation.assignee == teammate


# --- Status, snooze, priority, tags -----------------------------------------------------------


def test_resolve_records_who_and_when(conversation, agent, live_events, committed):
    with committed():
        services.conversation_set_status(conversation=conversation, status="resolved", actor=agent)
    conversation.refresh_from_db()
    assert conversation.status == Status.RESOLVED
    assert conversation.resolved_by == agent and conversation.resolved_at is not None
    assert events_of(conversation, EventKind.STATUS)[0].data == {"from": "active", "to": "resolved", "reason": "agent"}
    assert live_events.of_type("conversation.updated")[0]["conversation"]["status"] == "resolved"


def test_setting_the_same_status_records_nothing(conversation, agent, live_events, committed):
    with committed():
        services.conversation_set_status(conversation=conversation, status="active", actor=agent)
    assert not events_of(conversation, EventKind.STATUS) and live_events.sent == []


def test_unknown_status_is_refused(conversation, agent):
    with pytest.raises(services.ServiceError, match="Unknown status"):
        services.conversation_set_status(conversation=conversation, status="closed", actor=agent)


def test_snooze_makes_pending_until_the_time(conversation, agent, live_events, committed):
    until = timezone.now() + timedelta(hours=3)
    with committed():
        services.conversation_snooze(conversation=conversation, until=until, actor=agent)
    conversation.refresh_from_db()
    assert conversation.status == Status.PENDING and conversation.snoozed_until == until
    assert events_of(conversation, EventKind.SNOOZED)[0].data == {"until": until.isoformat()}
    assert live_events.of_type("conversation.updated")[0]["conversation"]["snoozed_until"] == until.isoformat()


def test_snooze_in_the_past_is_refused(conversation, agent):
    with pytest.raises(services.ServiceError, match="future"):
        services.conversation_snooze(
            conversation=conversation, until=timezone.now() - timedelta(minutes=1), actor=agent
        )


def test_leaving_pending_clears_the_snooze(conversation, agent):
    services.conversation_snooze(conversation=conversation, until=timezone.now() + timedelta(hours=1), actor=agent)
    services.conversation_set_status(conversation=conversation, status="active", actor=None)
    conversation.refresh_from_db()
    assert conversation.snoozed_until is None
    assert events_of(conversation, EventKind.STATUS)[-1].data["reason"] == "timer"


def test_priority_override_needs_a_reason(conversation, agent):
    with pytest.raises(services.ServiceError, match="reason"):
        services.conversation_set_priority(conversation=conversation, priority="urgent", actor=agent)
    conversation.refresh_from_db()
    assert conversation.priority == Priority.NORMAL


def test_priority_with_reason_is_recorded(conversation, agent, live_events, committed):
    with committed():
        services.conversation_set_priority(
            conversation=conversation, priority="urgent", actor=agent, reason="Outage for a VIP"
        )
    conversation.refresh_from_db()
    assert conversation.priority == Priority.URGENT
    assert events_of(conversation, EventKind.PRIORITY)[0].data == {
        "from": "normal",
        "to": "urgent",
        "reason": "Outage for a VIP",
    }
    assert live_events.of_type("conversation.updated")[0]["conversation"]["priority"] == "urgent"


def test_automatic_priority_needs_no_reason(conversation):
    services.conversation_set_priority(conversation=conversation, priority=Priority.HIGH, actor=None)
    conversation.refresh_from_db()
    assert conversation.priority == Priority.HIGH
    assert events_of(conversation, EventKind.PRIORITY)[0].actor_kind == "system"


def test_unknown_priority_is_refused(conversation, agent):
    with pytest.raises(services.ServiceError, match="unknown priority"):
        services.conversation_set_priority(conversation=conversation, priority="asap", actor=agent, reason="x")


def test_tags_added_and_removed(conversation, agent, live_events, committed):
    with committed():
        services.conversation_set_tags(conversation=conversation, actor=agent, add=["Refund", "vip"])
        services.conversation_set_tags(conversation=conversation, actor=agent, add=["vip"], remove=["refund"])
    assert sorted(t.name for t in conversation.tags.all()) == ["vip"]
    assert [e.data for e in events_of(conversation, EventKind.TAGGED)] == [
        {"added": ["refund", "vip"], "removed": []},
        {"added": [], "removed": ["refund"]},
    ]
    assert live_events.of_type("conversation.updated")[-1]["conversation"]["tags"] == ["vip"]


def test_bad_tag_name_is_refused(conversation, agent):
    with pytest.raises(services.ServiceError):
        services.conversation_set_tags(conversation=conversation, actor=agent, add=["<script>"])
    assert not conversation.tags.exists()


# --- Take over, merge, read state -------------------------------------------------------------


def test_take_over_tells_the_customer_who_joined(inbox, agent, live_events, committed):
    conversation = services.message_receive_inbound(
        inbox=inbox, identity_kind="web_visitor", identity_value="v-2", body="I need help"
    ).message.conversation
    assert conversation.handler == Handler.BOT
    live_events.clear()
    with committed():
        services.conversation_take_over(conversation=conversation, agent=agent)
    conversation.refresh_from_db()
    assert conversation.handler == Handler.HUMAN and conversation.assignee == agent
    assert events_of(conversation, EventKind.TAKEN_OVER)[0].actor == agent
    assert events_of(conversation, EventKind.HANDOFF)[0].data == {"reason": "taken_over"}
    joined = conversation.messages.filter(sender_kind="system").get()
    assert joined.body == "Alice Agent has joined the conversation."
    assert not joined.is_private_note
    assert visitor_group(conversation.pk) in live_events.groups_of("message.created")[0]


def test_take_over_twice_sends_one_message(conversation, agent):
    Conversation.objects.filter(pk=conversation.pk).update(handler=Handler.BOT)
    services.conversation_take_over(conversation=conversation, agent=agent)
    services.conversation_take_over(conversation=conversation, agent=agent)
    assert conversation.messages.filter(sender_kind="system").count() == 1


def test_outsider_cannot_take_over(conversation, outsider):
    with pytest.raises(services.ServiceError):
        services.conversation_take_over(conversation=conversation, agent=outsider)


def test_merge_moves_identities_conversations_and_fills_details(inbox, sms_inbox, agent, live_events, committed):
    web = services.message_receive_inbound(
        inbox=inbox, identity_kind="web_visitor", identity_value="v-9", body="hi", contact_name=""
    ).message.conversation
    sms = receive(sms_inbox, contact_name="Erin").message.conversation
    source, target = web.contact, sms.contact
    source.custom_attributes = {"plan": "pro", "city": "Lyon"}
    source.save()
    target.custom_attributes = {"city": "Paris"}
    target.save()
    live_events.clear()
    with committed():
        services.contact_merge(source=source, target=target, actor=agent)
    source.refresh_from_db()
    target.refresh_from_db()
    assert source.merged_into == target
    assert set(target.identities.values_list("kind", flat=True)) == {"phone", "web_visitor"}
    assert set(target.conversations.values_list("pk", flat=True)) == {web.pk, sms.pk}
    assert target.custom_attributes == {"plan": "pro", "city": "Paris"}
    assert events_of(web, EventKind.CONTACT_MERGED)[0].data == {"from_contact": source.pk, "to_contact": target.pk}
    assert live_events.of_type("contact.updated")[0]["merged_from"] == source.pk
    # A later message on the old identity now joins the merged contact.
    again = services.message_receive_inbound(
        inbox=inbox, identity_kind="web_visitor", identity_value="v-9", body="back"
    ).message
    assert again.conversation.contact == target


def test_merge_into_itself_is_refused(agent):
    contact = f.ContactFactory()
    with pytest.raises(services.ServiceError):
        services.contact_merge(source=contact, target=contact, actor=agent)


def test_identity_owned_by_another_contact_is_refused(agent):
    first = f.ChannelIdentityFactory(kind="email", value="x@example.com").contact
    second = f.ContactFactory()
    with pytest.raises(services.ServiceError, match="another contact"):
        services.contact_add_identity(contact=second, kind="email", value="X@example.com")
    assert ChannelIdentity.objects.get().contact == first


def test_mark_read_is_per_agent(conversation, agent, teammate):
    services.conversation_mark_read(conversation=conversation, user=agent)
    services.conversation_mark_read(conversation=conversation, user=agent)
    assert ConversationRead.objects.filter(conversation=conversation).count() == 1
    assert not ConversationRead.objects.filter(user=teammate).exists()


def test_events_are_append_only(conversation):
    event = f.ConversationEventFactory(conversation=conversation)
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
