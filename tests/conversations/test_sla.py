"""SLA targets: due times kept by the services, warnings and breaches recorded once by the sweep.

Every timer is tested by moving the clock (time-machine), never by sleeping.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from conversations import services, sla, tasks
from conversations.models import (
    Conversation,
    ConversationEvent,
    EventKind,
    Notification,
    NotificationKind,
    Status,
)
from conversations.realtime import user_group
from routing import assign_services
from routing import services as assistant_services
from tests import factories as f

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 10, 10, 0, tzinfo=ZoneInfo("UTC"))  # a Wednesday


@pytest.fixture
def policy(db: Any) -> Any:
    return f.SLAPolicyFactory(
        name="Standard", first_response_minutes=60, next_response_minutes=30, resolution_minutes=24 * 60
    )


@pytest.fixture
def desk(db: Any, agent: Any, teammate: Any, team: Any, supervisor: Any, policy: Any) -> Any:
    """An SMS inbox answered by people (no assistant) with the standard policy; Sam supervises the team."""
    team.supervisors.add(supervisor)
    return f.InboxFactory(
        name="Desk",
        kind="sms",
        members=[agent, teammate],
        default_team=team,
        sla_policy=policy,
        assistant_enabled=False,
    )


def receive(inbox: Any, body: str = "hello", phone: str = "+14155550190") -> Conversation:
    conversation = services.message_receive_inbound(
        inbox=inbox, identity_kind="phone", identity_value=phone, body=body
    ).message.conversation
    return Conversation.objects.get(pk=conversation.pk)


def fresh(conversation: Conversation) -> Conversation:
    return Conversation.objects.get(pk=conversation.pk)


def sla_events(conversation: Conversation) -> list[tuple[str, str]]:
    kinds = [EventKind.SLA_WARNING, EventKind.SLA_BREACH, EventKind.SLA_MET, EventKind.SLA_MISSED]
    return [
        (e.kind, e.data["target"])
        for e in ConversationEvent.objects.filter(conversation=conversation, kind__in=kinds).order_by("id")
    ]


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


# --- Due times kept by the services ---------------------------------------------------------


def test_a_customer_waiting_for_a_person_gets_first_response_and_resolution_due_times(desk):
    with time_machine.travel(T0, tick=False):
        conversation = receive(desk)
    assert conversation.sla_policy is not None
    assert conversation.first_response_due_at == T0 + minutes(60)
    assert conversation.resolution_due_at == T0 + minutes(24 * 60)
    assert conversation.next_response_due_at is None
    assert conversation.sla_warn_at == T0 + minutes(48)  # 80% of the first response
    assert conversation.sla_breach_at == T0 + minutes(60)
    summary = sla.summary(conversation, now=T0)
    assert summary["state"] == "on_track"
    assert summary["due_at"] == T0 + minutes(60)


def test_without_a_policy_nothing_is_due(sms_inbox):
    sms_inbox.assistant_enabled = False
    sms_inbox.save()
    conversation = receive(sms_inbox)
    assert conversation.first_response_due_at is None and conversation.sla_warn_at is None
    assert sla.summary(conversation)["state"] is None


def test_a_reply_in_time_meets_the_first_response(desk, agent):
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        clock.shift(minutes(20))
        services.message_send_reply(conversation=conversation, author=agent, body="On it")
    conversation = fresh(conversation)
    assert conversation.first_response_due_at is None
    assert conversation.resolution_due_at == T0 + minutes(24 * 60)
    assert conversation.sla_warn_at == T0 + minutes(0.8 * 24 * 60)
    assert sla_events(conversation) == [(EventKind.SLA_MET, "first_response")]
    met = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.SLA_MET)
    assert met.data["minutes"] == 20
    summary = sla.summary(conversation, now=T0 + minutes(20))
    assert summary["targets"]["first_response"] == {
        "state": "met",
        "due_at": T0 + minutes(60),
        "outcome": "met",
    }
    assert summary["state"] == "on_track"  # the resolution still runs


def test_a_late_reply_misses_the_first_response_with_one_breach(desk, agent):
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        clock.shift(minutes(90))  # no sweep ran meanwhile
        services.message_send_reply(conversation=conversation, author=agent, body="Sorry for the wait")
        assert sla.run_sla_timers() == {"warnings": 0, "breaches": 0}
    assert sla_events(fresh(conversation)) == [
        (EventKind.SLA_BREACH, "first_response"),
        (EventKind.SLA_MISSED, "first_response"),
    ]


def test_next_response_runs_from_each_unanswered_customer_message(desk, agent):
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        clock.shift(minutes(5))
        services.message_send_reply(conversation=conversation, author=agent, body="Hello")
        clock.shift(minutes(60))
        receive(desk, "one more thing")
        clock.shift(minutes(10))
        receive(desk, "are you there?")  # still waiting since the first of the two
        conversation = fresh(conversation)
        assert conversation.next_response_due_at == T0 + minutes(65 + 30)
        clock.shift(minutes(15))
        services.message_send_reply(conversation=conversation, author=agent, body="Yes")
    conversation = fresh(conversation)
    assert conversation.next_response_due_at is None
    assert sla_events(conversation) == [(EventKind.SLA_MET, "first_response"), (EventKind.SLA_MET, "next_response")]


def test_resolving_marks_each_running_target_met_or_missed(desk, agent):
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        clock.shift(minutes(120))
        services.conversation_set_status(conversation=conversation, status=Status.RESOLVED, actor=agent)
    conversation = fresh(conversation)
    assert (conversation.first_response_due_at, conversation.resolution_due_at) == (None, None)
    assert (conversation.sla_warn_at, conversation.sla_breach_at) == (None, None)
    assert set(sla_events(conversation)) == {
        (EventKind.SLA_BREACH, "first_response"),
        (EventKind.SLA_MISSED, "first_response"),
        (EventKind.SLA_MET, "resolution"),
    }
    summary = sla.summary(conversation, now=T0 + minutes(121))
    assert summary["state"] == "breached" and summary["due_at"] is None
    assert summary["targets"]["resolution"]["state"] == "met"


def test_a_conversation_resolved_in_time_is_met(desk, agent):
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        clock.shift(minutes(10))
        services.message_send_reply(conversation=conversation, author=agent, body="Done")
        services.conversation_set_status(conversation=conversation, status=Status.RESOLVED, actor=agent)
    assert sla.summary(fresh(conversation))["state"] == "met"


def test_reopening_starts_the_clocks_again(desk, agent):
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        clock.shift(minutes(10))
        services.message_send_reply(conversation=conversation, author=agent, body="Done")
        services.conversation_set_status(conversation=conversation, status=Status.RESOLVED, actor=agent)
        clock.shift(timedelta(days=2))
        receive(desk, "it broke again")
    conversation = fresh(conversation)
    reopened = T0 + minutes(10) + timedelta(days=2)
    assert conversation.status == Status.ACTIVE
    assert conversation.resolution_due_at == reopened + minutes(24 * 60)
    assert conversation.next_response_due_at == reopened + minutes(30)
    assert sla.summary(conversation, now=reopened)["state"] == "on_track"


def test_an_agent_reopening_restarts_the_resolution(desk, agent):
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        services.conversation_set_status(conversation=conversation, status=Status.RESOLVED, actor=agent)
        clock.shift(minutes(30))
        services.conversation_set_status(conversation=conversation, status=Status.ACTIVE, actor=agent)
    assert fresh(conversation).resolution_due_at == T0 + minutes(30 + 24 * 60)


def test_the_assistant_has_no_clock_and_its_handoff_starts_one(desk, committed):
    desk.assistant_enabled = True
    desk.save()
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        assert conversation.first_response_due_at is None and conversation.resolution_due_at is None
        assistant_services.assistant_reply(
            conversation=conversation,
            for_message=conversation.messages.get(),
            body="Hi! How can I help?",
            confidence=0.9,
        )
        clock.shift(minutes(5))
        message = receive(desk, "I want to talk to a person").messages.order_by("-id").first()
        clock.shift(minutes(1))
        with committed():
            assistant_services.assistant_handoff(
                conversation=conversation, reason="asked_for_human", for_message=message
            )
    conversation = fresh(conversation)
    assert conversation.first_response_due_at == T0 + minutes(5 + 60)  # from the message that asked
    assert conversation.resolution_due_at == T0 + minutes(6 + 24 * 60)  # from the handoff


def test_in_draft_mode_the_clock_runs_until_an_agent_sends_the_draft(desk, agent):
    desk.assistant_enabled = True
    desk.assistant_mode = "draft"
    desk.save()
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        assert conversation.handler == "bot"
        assert conversation.first_response_due_at == T0 + minutes(60)
        draft = assistant_services.assistant_draft_create(
            conversation=conversation, for_message=conversation.messages.get(), body="Try this", confidence=0.7
        )
        clock.shift(minutes(30))
        assistant_services.assistant_draft_send(draft=draft, agent=agent)
    assert sla_events(conversation) == [(EventKind.SLA_MET, "first_response")]


def test_a_business_hours_policy_counts_only_open_hours(desk, policy, agent):
    policy.business_hours = f.BusinessHoursFactory(
        timezone="Europe/Paris", schedule={str(d): [["09:00", "17:00"]] for d in range(1, 6)}
    )
    policy.save()
    friday = datetime(2026, 6, 12, 16, 30, tzinfo=ZoneInfo("Europe/Paris"))
    with time_machine.travel(friday, tick=False) as clock:
        conversation = receive(desk)
        monday = datetime(2026, 6, 15, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))
        assert conversation.first_response_due_at == monday
        # 80% of 60 business minutes = 48: 30 on Friday, 18 on Monday.
        assert conversation.sla_warn_at == datetime(2026, 6, 15, 9, 18, tzinfo=ZoneInfo("Europe/Paris"))
        clock.shift(timedelta(days=2))  # Sunday afternoon: nothing is due
        assert sla.run_sla_timers() == {"warnings": 0, "breaches": 0}
        clock.move_to(monday - minutes(10))
        assert sla.run_sla_timers() == {"warnings": 1, "breaches": 0}
        clock.move_to(monday + minutes(1))
        assert sla.run_sla_timers() == {"warnings": 0, "breaches": 1}  # the first response; the resolution runs on
        clock.move_to(monday + minutes(2))
        services.message_send_reply(conversation=conversation, author=agent, body="Good morning")
    met = ConversationEvent.objects.get(conversation=conversation, kind=EventKind.SLA_MISSED)
    assert met.data["minutes"] == 62  # business minutes: 30 on Friday, 32 on Monday


def test_a_routing_rule_chooses_the_policy_and_running_targets_are_re_timed(desk, committed):
    urgent = f.SLAPolicyFactory(name="VIP", first_response_minutes=10, next_response_minutes=None)
    f.RoutingRuleFactory(
        conditions=[{"field": "keywords", "operator": "contains_any", "value": ["outage"]}],
        actions={"sla_policy": urgent.pk},
    )
    with time_machine.travel(T0, tick=False), committed():
        conversation = receive(desk, "total outage here")
    conversation = fresh(conversation)
    assert conversation.sla_policy == urgent
    assert conversation.first_response_due_at == T0 + minutes(10)
    assert conversation.resolution_due_at == T0 + minutes(24 * 60)
    assert ConversationEvent.objects.filter(conversation=conversation, kind=EventKind.SLA_POLICY).exists()


def test_removing_the_policy_stops_the_clocks(desk):
    with time_machine.travel(T0, tick=False):
        conversation = receive(desk)
        assign_services.conversation_set_sla_policy(conversation=conversation, sla_policy=None, actor=None)
    conversation = fresh(conversation)
    assert conversation.first_response_due_at is None and conversation.sla_warn_at is None
    assert sla.summary(conversation)["state"] is None


# --- Warnings and breaches ------------------------------------------------------------------


def test_warning_at_the_fraction_then_breach_each_recorded_once(desk, agent, teammate, supervisor):
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        services.conversation_assign(conversation=conversation, assignee=agent, actor=None)
        clock.shift(minutes(47))
        assert sla.run_sla_timers() == {"warnings": 0, "breaches": 0}
        assert sla.summary(fresh(conversation))["state"] == "on_track"
        clock.shift(minutes(2))
        assert sla.run_sla_timers() == {"warnings": 1, "breaches": 0}
        assert sla.run_sla_timers() == {"warnings": 0, "breaches": 0}
        assert sla.summary(fresh(conversation))["state"] == "warning"
        clock.shift(minutes(12))
        assert sla.run_sla_timers() == {"warnings": 0, "breaches": 1}
        assert sla.run_sla_timers() == {"warnings": 0, "breaches": 0}
        assert sla.summary(fresh(conversation))["state"] == "breached"
    assert sla_events(conversation) == [
        (EventKind.SLA_WARNING, "first_response"),
        (EventKind.SLA_BREACH, "first_response"),
    ]
    for kind in (NotificationKind.SLA_WARNING, NotificationKind.SLA_BREACH):
        told = set(
            Notification.objects.filter(kind=kind, conversation=conversation).values_list("recipient", flat=True)
        )
        assert told == {agent.pk, supervisor.pk}, kind  # the assignee and the team's supervisor, not the teammate
    assert teammate.pk not in set(
        Notification.objects.filter(kind__startswith="sla").values_list("recipient", flat=True)
    )


def test_a_sweep_that_comes_late_records_the_breach_without_a_stale_warning(desk):
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        clock.shift(minutes(65))
        assert sla.run_sla_timers() == {"warnings": 0, "breaches": 1}
    assert sla_events(conversation) == [(EventKind.SLA_BREACH, "first_response")]
    assert fresh(conversation).sla_warn_at == T0 + minutes(0.8 * 24 * 60)  # the resolution's warning is next


def test_the_warning_and_breach_change_the_conversation_live(desk, supervisor, live_events, committed):
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        clock.shift(minutes(50))
        live_events.clear()
        with committed():
            sla.run_sla_timers()
    updates = [e for e in live_events.of_type("conversation.updated") if e["conversation"]["id"] == conversation.pk]
    assert updates and updates[-1]["changes"] == ["sla"]
    assert updates[-1]["conversation"]["sla"] == {
        "state": "warning",
        "due_at": (T0 + minutes(60)).isoformat(),
        "targets": {
            "first_response": {"state": "warning", "due_at": (T0 + minutes(60)).isoformat(), "outcome": None},
            "resolution": {"state": "on_track", "due_at": (T0 + minutes(24 * 60)).isoformat(), "outcome": None},
        },
    }
    # Nobody has it yet: the team's supervisor hears of the warning.
    assert live_events.groups_of("notification.created") == [[user_group(supervisor.pk)]]
    assert live_events.of_type("notification.created")[0]["notification"]["kind"] == "sla_warning"


def test_the_beat_task_runs_the_sla_sweep(desk):
    assert settings.CELERY_BEAT_SCHEDULE["sla-timers"]["task"] == "conversations.tasks.run_sla_timers"
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk)
        clock.shift(minutes(61))
        tasks.run_sla_timers.delay()
    assert sla_events(conversation) == [(EventKind.SLA_BREACH, "first_response")]


def test_sweeps_take_bounded_batches(desk, monkeypatch):
    monkeypatch.setattr(sla, "BATCH_SIZE", 3)
    with time_machine.travel(T0, tick=False) as clock:
        for i in range(7):
            receive(desk, phone=f"+1415555019{i}")
        clock.shift(minutes(61))
        assert sla.run_sla_timers() == {"warnings": 0, "breaches": 7}
    assert not Conversation.objects.filter(sla_breach_at__lte=T0 + minutes(61)).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_record_each_warning_and_breach_once():
    team = f.TeamFactory(name="Night shift")
    supervisor = f.SupervisorFactory(username="nina")
    team.supervisors.add(supervisor)
    policy = f.SLAPolicyFactory(first_response_minutes=60, next_response_minutes=None, resolution_minutes=None)
    desk = f.InboxFactory(kind="sms", default_team=team, sla_policy=policy, assistant_enabled=False)
    start = timezone.now() - timedelta(minutes=50)
    with time_machine.travel(start, tick=False):
        conversations = [receive(desk, phone=f"+1415555020{i}") for i in range(10)]

    def race() -> list[dict[str, int]]:
        barrier = threading.Barrier(2)
        results: list[dict[str, int]] = []

        def sweep() -> None:
            try:
                barrier.wait()
                results.append(sla.run_sla_timers())
            finally:
                connection.close()

        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return results

    assert sum(r["warnings"] for r in race()) == 10  # 50 of 60 minutes: past the 48-minute warning
    with time_machine.travel(timezone.now() + timedelta(minutes=15)):
        assert sum(r["breaches"] for r in race()) == 10
    for conversation in conversations:
        assert sla_events(conversation) == [
            (EventKind.SLA_WARNING, "first_response"),
            (EventKind.SLA_BREACH, "first_response"),
        ]
    assert Notification.objects.filter(recipient=supervisor, kind=NotificationKind.SLA_WARNING).count() == 10
    assert Notification.objects.filter(recipient=supervisor, kind=NotificationKind.SLA_BREACH).count() == 10
