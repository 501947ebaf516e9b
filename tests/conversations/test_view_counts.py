"""The inbox views' counters (OpenConversationCount) stay equal to a fresh count whatever writes the conversations."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from conversations import services, view_counts
from conversations.api.selectors import _counts_by_aggregation, _counts_from_counters, conversation_counts
from conversations.models import Conversation, OpenConversationCount, Priority, Status
from tests import factories as f

pytestmark = pytest.mark.postgres

STATUSES = [Status.ACTIVE, Status.PENDING, Status.RESOLVED, Status.ARCHIVED]


def test_counters_equal_a_fresh_count_after_many_random_changes(
    agent: Any, teammate: Any, supervisor: Any, team: Any, inbox: Any, sms_inbox: Any
) -> None:
    rng = random.Random(7)
    other_team = f.TeamFactory(name="Billing")
    inboxes, teams, agents = [inbox, sms_inbox], [team, other_team, None], [agent, teammate, None]
    contact = f.ContactFactory()
    conversations = [
        f.ConversationFactory(inbox=rng.choice(inboxes), contact=contact, status=rng.choice(STATUSES))
        for _ in range(12)
    ]
    now = timezone.now()
    for step in range(150):
        conversation = Conversation.objects.get(pk=rng.choice(conversations).pk)
        action = rng.randrange(11)
        if action == 0:
            services.conversation_assign(conversation=conversation, assignee=rng.choice([agent, teammate]), actor=None)
        elif action == 1:
            services.conversation_set_status(conversation=conversation, status=rng.choice(STATUSES), actor=agent)
        elif action == 2:
            services.conversation_set_priority(
                conversation=conversation, priority=rng.choice(list(Priority)), actor=None
            )
        elif action == 3 and conversation.status in (Status.ACTIVE, Status.PENDING):
            services.message_send_reply(conversation=conversation, author=agent, body=f"reply {step}")
        elif action == 4:  # writes that bypass the services: bulk updates, the admin, raw SQL
            Conversation.objects.filter(pk=conversation.pk).update(
                status=rng.choice(STATUSES), team=rng.choice(teams), assignee=rng.choice(agents)
            )
        elif action == 5:
            Conversation.objects.filter(pk=conversation.pk).update(
                inbox=rng.choice(inboxes), last_message_direction=rng.choice(["in", "out", ""]), handler="bot"
            )
        elif action == 6:
            conversation.handler = rng.choice(["bot", "human"])
            conversation.save()
        elif action == 7:
            conversations.append(
                f.ConversationFactory(
                    inbox=rng.choice(inboxes), contact=contact, status=rng.choice(STATUSES), team=rng.choice(teams)
                )
            )
        elif action == 8 and len(conversations) > 5:
            conversations.remove(next(c for c in conversations if c.pk == conversation.pk))
            conversation.delete()
        elif action == 9:  # clocks: today's resolutions and SLA due times, which the counts read live
            Conversation.objects.filter(pk=conversation.pk).update(
                resolved_at=now - timedelta(hours=rng.randrange(48)),
                next_response_due_at=now + timedelta(minutes=rng.randrange(-60, 60)),
            )
        else:
            Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now - timedelta(minutes=step))
    assert view_counts.differences() == []
    assert OpenConversationCount.objects.exists()
    for user in (agent, teammate, supervisor):
        assert _counts_from_counters(user, now=now) == _counts_by_aggregation(user, now=now), user
    # Every view's count is also what its list holds.
    counts = conversation_counts(agent)
    assert counts["all"]["active"] == Conversation.objects.filter(status="active", inbox__members=agent).count()


def test_a_conversation_moved_both_ways_at_once_keeps_both_counters(agent: Any, inbox: Any, team: Any) -> None:
    one = f.ConversationFactory(inbox=inbox, status=Status.ACTIVE)
    two = f.ConversationFactory(inbox=inbox, status=Status.PENDING)
    Conversation.objects.filter(pk__in=[one.pk, two.pk]).update(
        status=Status.PENDING if one.status == Status.ACTIVE else Status.ACTIVE
    )
    assert view_counts.differences() == []


def test_statements_writing_many_conversations_at_once_keep_the_counters(
    agent: Any, inbox: Any, sms_inbox: Any, team: Any
) -> None:
    """The triggers see a statement's rows together: bulk inserts, updates and deletes of many rows."""
    contact = f.ContactFactory()
    Conversation.objects.bulk_create(
        [
            Conversation(inbox=(inbox, sms_inbox)[i % 2], contact=contact, status=STATUSES[i % 4], team=team)
            for i in range(300)
        ]
    )
    assert view_counts.differences() == []
    assert OpenConversationCount.objects.filter(n__gt=0).exists()
    everything = Conversation.objects.filter(contact=contact)
    everything.filter(status=Status.ACTIVE).update(status=Status.PENDING, assignee=agent)  # 75 move
    everything.update(last_message_at=timezone.now())  # nothing counted moves: no counter row written
    assert view_counts.differences() == []
    everything.filter(inbox=sms_inbox).delete()
    assert view_counts.differences() == []
    assert (
        sum(OpenConversationCount.objects.values_list("n", flat=True))
        == everything.filter(status__in=[Status.ACTIVE, Status.PENDING]).count()
    )


def test_rebuild_repairs_counters_and_check_reports_them(agent: Any, conversation: Any, capsys: Any) -> None:
    OpenConversationCount.objects.update(n=5)
    assert len(view_counts.differences()) == 1
    with pytest.raises(Exception, match="disagree"):
        call_command("rebuild_view_counts", "--check")
    call_command("rebuild_view_counts")
    assert view_counts.differences() == []
    call_command("rebuild_view_counts", "--check")
    assert "agree" in capsys.readouterr().out
