"""Every metric checked against scenarios built by hand, through the real services, with known answers."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from analytics import recorder, selectors
from analytics.metrics import FACTLESS_KINDS
from analytics.models import DailyRollup, FactKind, MetricFact
from conversations import services
from conversations.models import ConversationEvent, EventKind, SenderKind
from routing import services as assistant_services
from tests import factories as f
from tests.analytics.helpers import at, customer, reply, resolve

pytestmark = pytest.mark.django_db


def report(start: str, end: str, **dims: Any) -> dict[str, Any]:
    recorder.refresh()
    filters = selectors.Filters(start=date.fromisoformat(start), end=date.fromisoformat(end), **dims)
    return selectors.metric_values(selectors.totals(filters))


def test_human_first_conversation_with_a_reopening(reopened_conversation: Any, agent: Any, teammate: Any) -> None:
    metrics = report("2026-03-02", "2026-03-03")
    assert metrics["new_conversations"] == 1
    assert metrics["first_response_time"] == 600
    assert metrics["first_responses"] == 1
    # Monday's wait starts at the first unanswered message (09:30), Tuesday's at the reopening message.
    assert metrics["next_response_time"] == (1800 + 1200) / 2
    assert metrics["response_time"] == (600 + 1800 + 1200) / 3
    # Each resolution counts from the start of its cycle: creation, then the reopening.
    assert metrics["resolved"] == 2
    assert metrics["reopened"] == 1
    assert metrics["resolution_time"] == (5400 + 3600) / 2
    # Monday: three customer messages and two replies; Tuesday: one and one.
    assert metrics["messages_per_conversation"] == (5 + 2) / 2
    assert metrics["active_time"] == (5400 + 3600) / 2
    assert metrics["handled"] == 2
    assert metrics["resolution_rate"] == 1.0
    # Nobody's assistant here.
    assert metrics["handoff_rate"] is None
    assert metrics["sla_compliance"] is None


def test_reopening_is_reported_on_its_own_day(reopened_conversation: Any) -> None:
    monday = report("2026-03-02", "2026-03-02")
    tuesday = report("2026-03-03", "2026-03-03")
    assert (monday["new_conversations"], monday["resolved"], monday["reopened"]) == (1, 1, 0)
    assert (tuesday["new_conversations"], tuesday["resolved"], tuesday["reopened"]) == (0, 1, 1)
    assert monday["resolution_time"] == 5400
    assert tuesday["resolution_time"] == 3600


def test_per_agent_rows_attribute_replies_and_resolutions(
    reopened_conversation: Any, agent: Any, teammate: Any
) -> None:
    recorder.refresh()
    filters = selectors.Filters(start=date(2026, 3, 2), end=date(2026, 3, 3))
    rows = {row["id"]: row for row in selectors.breakdown(filters, "agent")}
    assert set(rows) == {agent.pk, teammate.pk}
    alice, bob = rows[agent.pk], rows[teammate.pk]
    assert (alice["first_response_time"], alice["next_response_time"], alice["resolved"]) == (600, 1800, 1)
    assert (bob["first_response_time"], bob["next_response_time"], bob["resolved"]) == (None, 1200, 1)
    assert alice["handled"] == bob["handled"] == 1
    assert alice["name"] == "Alice Agent"


def test_backlog_counts_open_conversations_at_the_end_of_each_day(
    human_inbox: Any, agent: Any, reopened_conversation: Any
) -> None:
    with at("2026-03-03T12:00:00"):
        customer(human_inbox, "A new question", phone="+15551230002")
    with at("2026-03-04T12:00:00"):
        customer(human_inbox, "Another", phone="+15551230003")
    recorder.refresh()
    filters = selectors.Filters(start=date(2026, 3, 2), end=date(2026, 3, 5))
    series = selectors.backlog_series(filters)
    assert list(series.values()) == [0, 1, 2, 2]
    # A range that starts later carries the earlier days' backlog.
    later = selectors.backlog_series(selectors.Filters(start=date(2026, 3, 4), end=date(2026, 3, 4)))
    assert later == {date(2026, 3, 4): 2}


def test_assistant_first_response_time_counts_from_the_handoff(assistant_inbox: Any, agent: Any) -> None:
    with at("2026-03-02T10:00:00"):
        question = customer(assistant_inbox, "How do I refund a sale?")
        conversation = question.conversation
    with at("2026-03-02T10:01:00"):
        assistant_services.assistant_reply(
            conversation=conversation, for_message=question, body="Open the sale and tap Refund.", confidence=0.9
        )
    with at("2026-03-02T10:05:00"):
        follow_up = customer(assistant_inbox, "I want to talk to a person")
        assistant_services.assistant_handoff(conversation=conversation, reason="asked_for_human", for_message=follow_up)
    with at("2026-03-02T10:25:00"):
        reply(conversation, agent)
    with at("2026-03-02T11:00:00"):
        resolve(conversation, agent)
    metrics = report("2026-03-02", "2026-03-02")
    assert metrics["first_response_time"] == 20 * 60  # not 25 minutes from the first message
    assert metrics["handoffs"] == 1
    assert metrics["handoff_rate"] == 1.0
    assert metrics["assistant_resolved_rate"] == 0.0
    assert metrics["resolution_time"] == 3600
    # Question, answer, follow-up, the handoff notice, the agent's reply.
    assert metrics["messages_per_conversation"] == 5


def test_assistant_resolved_rate(assistant_inbox: Any, agent: Any) -> None:
    with at("2026-03-02T10:00:00"):
        handed = customer(assistant_inbox, "Person please", phone="+15551230010").conversation
        assistant_services.assistant_handoff(conversation=handed, reason="asked_for_human")
        solved = customer(assistant_inbox, "What are your fees?", phone="+15551230011").conversation
    with at("2026-03-02T10:30:00"):
        assistant_services.assistant_resolve(conversation=solved)
    metrics = report("2026-03-02", "2026-03-02")
    assert metrics["new_conversations"] == 2
    assert metrics["handoff_rate"] == 0.5
    assert metrics["assistant_resolved_rate"] == 0.5
    assert metrics["resolved"] == 1
    assert metrics["resolution_time"] == 1800
    assert metrics["first_responses"] == 0  # the assistant's answers are not people's responses


def test_business_hours_across_a_weekend_and_sla_compliance(agent: Any, team: Any) -> None:
    hours = f.BusinessHoursFactory(timezone="UTC", schedule={str(d): [["09:00", "17:00"]] for d in range(1, 6)})
    business_sla = f.SLAPolicyFactory(first_response_minutes=180, resolution_minutes=None, business_hours=hours)
    wall_sla = f.SLAPolicyFactory(first_response_minutes=60, resolution_minutes=None)
    in_hours = f.InboxFactory(
        kind="sms", members=[agent], default_team=team, assistant_enabled=False,
        business_hours=hours, sla_policy=business_sla,
    )  # fmt: skip
    wall = f.InboxFactory(kind="sms", members=[agent], default_team=team, assistant_enabled=False, sla_policy=wall_sla)
    with at("2026-03-06T16:00:00"):  # Friday, an hour before closing
        friday = customer(in_hours, "Help before the weekend").conversation
        friday_wall = customer(wall, "Same, other line", phone="+15551230020").conversation
    with at("2026-03-09T10:00:00"):  # Monday, an hour after opening
        reply(friday, agent)
        reply(friday_wall, agent)
    metrics = report("2026-03-06", "2026-03-09", inbox_id=in_hours.pk)
    assert metrics["first_response_time"] == (2 * 24 + 18) * 3600  # Friday 16:00 to Monday 10:00
    assert metrics["first_response_time_business"] == 2 * 3600  # one hour Friday, one Monday
    assert metrics["sla_compliance"] == 1.0  # two business hours are within three
    walled = report("2026-03-06", "2026-03-09", inbox_id=wall.pk)
    assert walled["first_response_time_business"] == walled["first_response_time"]  # no schedule: always open
    assert walled["sla_compliance"] == 0.0
    both = report("2026-03-06", "2026-03-09")
    assert both["sla_compliance"] == 0.5


def test_transfer_moves_the_open_conversation_between_team_backlogs(human_inbox: Any, agent: Any, team: Any) -> None:
    billing = f.TeamFactory(name="Billing")
    with at("2026-03-02T09:00:00"):
        conversation = customer(human_inbox, "Invoice question").conversation
    with at("2026-03-02T09:05:00"):
        services.conversation_transfer(conversation=conversation, team=billing, actor=agent)
    with at("2026-03-02T09:20:00"):
        reply(conversation, agent)
    recorder.refresh()
    day = selectors.Filters(start=date(2026, 3, 2), end=date(2026, 3, 2))
    support = dataclass_replace(day, team_id=team.pk)
    assert selectors.backlog_series(support) == {date(2026, 3, 2): 0}
    assert selectors.backlog_series(dataclass_replace(day, team_id=billing.pk)) == {date(2026, 3, 2): 1}
    assert selectors.metric_values(selectors.totals(support))["new_conversations"] == 1
    billing_metrics = selectors.metric_values(selectors.totals(dataclass_replace(day, team_id=billing.pk)))
    assert billing_metrics["first_response_time"] == 1200


def dataclass_replace(filters: selectors.Filters, **changes: Any) -> selectors.Filters:
    import dataclasses

    return dataclasses.replace(filters, **changes)


def test_channel_filter_and_per_channel_rows(human_inbox: Any, assistant_inbox: Any, agent: Any) -> None:
    with at("2026-03-02T09:00:00"):
        sms = customer(human_inbox, "SMS question").conversation
        customer(assistant_inbox, "WhatsApp question", phone="+15551230030")
    with at("2026-03-02T09:03:00"):
        reply(sms, agent)
    recorder.refresh()
    filters = selectors.Filters(start=date(2026, 3, 2), end=date(2026, 3, 2))
    rows = {row["id"]: row for row in selectors.breakdown(filters, "channel")}
    assert rows["sms"]["first_response_time"] == 180
    assert rows["sms"]["name"] == "SMS"
    assert rows["whatsapp"]["new_conversations"] == 1
    assert rows["whatsapp"]["handoff_rate"] == 0.0
    assert report("2026-03-02", "2026-03-02", channel="whatsapp")["first_responses"] == 0


def test_csat_is_attributed_to_the_agent_who_resolved(reopened_conversation: Any, teammate: Any) -> None:
    with at("2026-03-03T09:30:00"):
        services._record(reopened_conversation, EventKind.CSAT, actor_kind=SenderKind.CONTACT, data={"rating": 4})
    recorder.refresh()
    filters = selectors.Filters(start=date(2026, 3, 2), end=date(2026, 3, 3))
    rows = {row["id"]: row for row in selectors.breakdown(filters, "agent")}
    assert rows[teammate.pk]["csat_average"] == 4
    assert rows[teammate.pk]["csat_score"] == 1.0
    assert report("2026-03-02", "2026-03-03")["csat_responses"] == 1


# --- Written at write time, rebuilt identically -----------------------------------------------


def _facts() -> set[tuple[Any, ...]]:
    return set(
        MetricFact.objects.values_list(
            "event_id", "kind", "day", "team_id", "agent_id", "seconds", "business_seconds", "amount", "sla_met"
        )
    )


def _rollups() -> list[tuple[Any, ...]]:
    fields = ["day", "inbox_id", "team_id", "agent_id", *selectors.SUM_FIELDS]
    return sorted(DailyRollup.objects.values_list(*fields), key=repr)


def test_facts_are_written_with_the_event(reopened_conversation: Any, agent: Any) -> None:
    first = MetricFact.objects.get(kind=FactKind.FIRST_RESPONSE)
    assert first.seconds == 600
    assert first.agent_id == agent.pk
    event = ConversationEvent.objects.get(pk=first.event_id)
    assert event.kind == EventKind.MESSAGE_OUT


def test_a_customer_message_is_recorded_without_a_query_and_completes_no_fact(
    reopened_conversation: Any, django_assert_num_queries: Any
) -> None:
    recorder.rebuild()  # every fact as the replay makes it
    kinds = dict(ConversationEvent.objects.values_list("pk", "kind"))
    assert {kinds[fact_event] for fact_event in MetricFact.objects.values_list("event_id", flat=True)}.isdisjoint(
        FACTLESS_KINDS
    )
    assert EventKind.MESSAGE_IN in kinds.values()
    message_in = ConversationEvent.objects.filter(kind=EventKind.MESSAGE_IN).first()
    with django_assert_num_queries(0):
        recorder.record_event(message_in)


def test_rebuild_reproduces_the_write_time_facts_and_is_idempotent(reopened_conversation: Any) -> None:
    written = _facts()
    assert written
    recorder.rebuild()
    assert _facts() == written
    rollups = _rollups()
    recorder.rebuild()
    recorder.refresh()
    assert _rollups() == rollups


def test_refresh_picks_up_events_written_without_the_hook(human_inbox: Any, agent: Any) -> None:
    with at("2026-03-02T09:00:00"):
        conversation = customer(human_inbox, "Imported question").conversation
    recorder.refresh()
    with at("2026-03-02T09:45:00"):
        # An import writes events directly, as the demo seed does.
        ConversationEvent.objects.create(
            conversation=conversation,
            kind=EventKind.STATUS,
            actor=agent,
            actor_kind=SenderKind.AGENT,
            data={"from": "active", "to": "resolved"},
        )
    assert report("2026-03-02", "2026-03-02")["resolution_time"] == 2700


def test_rebuild_command(reopened_conversation: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    DailyRollup.objects.all().delete()
    MetricFact.objects.all().delete()
    out = StringIO()
    call_command("rebuild_analytics", stdout=out)
    assert "1 conversations" in out.getvalue()
    assert report("2026-03-02", "2026-03-03")["resolved"] == 2


def test_dashboard_report_in_one_scan_matches_the_separate_queries(reopened_conversation: Any, team: Any) -> None:
    with at("2026-03-03T12:00:00"):
        customer(reopened_conversation.inbox, "Another question", phone="+15551230099")
    recorder.refresh()
    for dims in ({}, {"team_id": team.pk}, {"channel": "email"}):
        filters = selectors.Filters(start=date(2026, 3, 1), end=date(2026, 3, 4), **dims)
        report = selectors.report(filters)
        assert report["metrics"] == selectors.metric_values(selectors.totals(filters))
        assert report["days"] == selectors.timeseries(filters)
        assert report["agents"] == selectors.breakdown(filters, "agent")
        assert report["channels"] == selectors.breakdown(filters, "channel")
