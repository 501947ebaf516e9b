"""`manage.py seed_demo`: a believable company built through the services, once, with working logins."""

from __future__ import annotations

import io
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Max, Q
from django.test import override_settings
from django.utils import timezone

from analytics.models import CSATResponse
from conversations import demo
from conversations.models import (
    AgentProfile,
    CannedResponse,
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    ConversationEvent,
    DeliveryStatus,
    Direction,
    EventKind,
    Handler,
    IdentityKind,
    Inbox,
    Message,
    Notification,
    Priority,
    SenderKind,
    Status,
    Team,
)
from routing.models import KnowledgeArticle, RoutingRule
from tests import factories as f

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


@pytest.fixture(scope="class")
def seeded(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Seed once for the class, inside a transaction that is rolled back afterwards."""
    var_dir = tmp_path_factory.mktemp("var")
    overrides = override_settings(
        VAR_DIR=var_dir,
        MEDIA_ROOT=str(var_dir / "media"),
        PASSWORD_HASHERS=FAST_HASHER,
    )
    with django_db_blocker.unblock(), overrides, transaction.atomic():
        output = _seed()
        yield {"var_dir": var_dir, "output": output, "now": timezone.now()}
        transaction.set_rollback(True)


@pytest.mark.slow
@pytest.mark.usefixtures("seeded")
class TestSeedDemo:
    @pytest.fixture(autouse=True)
    def _var_dir(self, seeded: dict[str, Any], settings: Any) -> None:
        settings.VAR_DIR = seeded["var_dir"]
        settings.PASSWORD_HASHERS = FAST_HASHER

    def test_reports_what_it_created(self, seeded: dict[str, Any]) -> None:
        assert "demo data created for Acme Support" in seeded["output"]

    def test_leaves_nothing_due_for_the_first_beat_and_the_dashboard_filled(self) -> None:
        from analytics.models import DailyRollup
        from conversations.sla import run_sla_timers

        # Targets the history missed were recorded while seeding, without a burst of alerts later.
        assert run_sla_timers() == {"warnings": 0, "breaches": 0}
        assert DailyRollup.objects.filter(new__gt=0).exists()

    def test_creates_an_inbox_of_every_kind_with_valid_config(self) -> None:
        inboxes = list(Inbox.objects.all())
        assert {inbox.kind for inbox in inboxes} == set(ChannelKind.values)
        for inbox in inboxes:
            inbox.full_clean()
            assert inbox.members.filter(is_staff=False).exists(), inbox
            assert inbox.default_team is not None
            assert inbox.sla_policy is not None
            assert inbox.business_hours is not None
        assert Inbox.objects.filter(sla_policy__business_hours__isnull=False).exists()

    def test_creates_three_teams_of_agents_and_a_supervisor(self) -> None:
        assert set(Team.objects.values_list("name", flat=True)) == {"Sales", "Support", "Billing"}
        for team in Team.objects.all():
            assert team.agents.count() >= 2, team
        supervisor = get_user_model().objects.get(username="supervisor")
        assert supervisor.is_staff and supervisor.is_superuser
        agents = get_user_model().objects.filter(is_staff=False)
        assert 6 <= agents.count() <= 10
        for agent in agents:
            profile = AgentProfile.objects.get(user=agent)
            profile.full_clean()
            assert profile.skills and profile.languages and profile.capacity > 0
            assert agent.inboxes.exists(), agent

    def test_creates_about_two_hundred_contacts_with_identities_on_several_channels(self) -> None:
        assert 180 <= Contact.objects.count() <= 220
        kinds = set(ChannelIdentity.objects.values_list("kind", flat=True))
        assert {IdentityKind.PHONE, IdentityKind.EMAIL, IdentityKind.WHATSAPP, IdentityKind.WEB_VISITOR} <= kinds
        for value in ChannelIdentity.objects.filter(kind__in=["phone", "whatsapp"]).values_list("value", flat=True):
            assert re.fullmatch(r"\+[1-9]\d{7,14}", value), value
        with_several = Contact.objects.annotate(n=Count("identities__kind", distinct=True)).filter(n__gte=2)
        assert with_several.count() >= 20
        assert Contact.objects.annotate(n=Count("identities__kind", distinct=True)).filter(n__gte=3).exists()

    def test_conversations_cover_every_status_and_priority(self, seeded: dict[str, Any]) -> None:
        assert set(Conversation.objects.values_list("status", flat=True)) == set(Status.values)
        assert set(Conversation.objects.values_list("priority", flat=True)) == set(Priority.values)
        snoozed = Conversation.objects.filter(snoozed_until__isnull=False)
        assert snoozed.exists()
        assert all(c.status == Status.PENDING and c.snoozed_until > seeded["now"] for c in snoozed)
        assert Conversation.objects.filter(status=Status.PENDING, snoozed_until__isnull=True).exists()
        assert Conversation.objects.filter(handler=Handler.BOT, status=Status.ACTIVE).exists()
        assert Conversation.objects.filter(status=Status.ACTIVE, handler=Handler.HUMAN, assignee__isnull=True).exists()

    def test_a_contact_talks_on_several_channels(self) -> None:
        multi = Contact.objects.annotate(n=Count("conversations__inbox__kind", distinct=True)).filter(n__gte=2)
        assert multi.count() >= 10
        # A story that continues across channels: an email, then an SMS about the same reader.
        assert Conversation.objects.filter(
            inbox__kind="sms", messages__body__contains="emailed last week", contact__conversations__inbox__kind="email"
        ).exists()

    def test_the_assistant_answers_with_a_confidence_and_hands_off_to_humans(self) -> None:
        answers = Message.objects.filter(sender_kind=SenderKind.ASSISTANT, confidence__isnull=False)
        assert answers.count() >= 50
        assert all(m.direction == Direction.OUTBOUND and 0 <= m.confidence <= 1 for m in answers)  # type: ignore[operator]
        assert answers.filter(confidence__lt=0.5).exists() and answers.filter(confidence__gte=0.8).exists()
        handoffs = ConversationEvent.objects.filter(kind=EventKind.HANDOFF)
        assert handoffs.filter(actor_kind=SenderKind.ASSISTANT).exists()
        assert handoffs.filter(data__reason="assigned").exists()
        assert ConversationEvent.objects.filter(kind=EventKind.TAKEN_OVER).exists()
        handed_off = Conversation.objects.filter(events__kind=EventKind.HANDOFF, events__actor_kind="assistant")
        assert handed_off.exclude(summary="").count() == handed_off.count()
        assert ConversationEvent.objects.filter(kind=EventKind.ASSISTANT_RESOLVED).exists()

    def test_agents_reply_write_notes_tag_and_classify(self) -> None:
        assert Message.objects.filter(sender_kind=SenderKind.AGENT, is_private_note=False).count() >= 100
        assert Message.objects.filter(is_private_note=True).count() >= 20
        assert Conversation.objects.filter(tags__isnull=False).distinct().count() >= 100
        assert {"billing", "technical", "sales", "general"} <= set(Conversation.objects.values_list("topic", flat=True))
        assert Message.objects.filter(direction=Direction.INBOUND, body__contains="\n\n").exists()  # long emails
        assert Message.objects.filter(attachments__isnull=False).exists()

    def test_nothing_is_left_queued(self) -> None:
        assert not Message.objects.filter(delivery_status=DeliveryStatus.QUEUED).exists()
        outbound = Message.objects.filter(direction=Direction.OUTBOUND, is_private_note=False)
        assert set(outbound.values_list("delivery_status", flat=True)) <= {
            DeliveryStatus.DELIVERED,
            DeliveryStatus.READ,
        }

    def test_every_message_has_its_event_and_conversations_agree_with_their_messages(self) -> None:
        expected = {
            (m.pk, EventKind.NOTE if m.is_private_note else f"message_{m.direction}") for m in Message.objects.all()
        }
        recorded = set(
            ConversationEvent.objects.filter(
                kind__in=[EventKind.MESSAGE_IN, EventKind.MESSAGE_OUT, EventKind.NOTE]
            ).values_list("message_id", "kind")
        )
        assert expected <= recorded
        visible = Q(messages__is_private_note=False)
        for conversation in Conversation.objects.annotate(
            n=Count("messages", filter=visible), last=Max("messages__created_at", filter=visible)
        ):
            assert conversation.message_count == conversation.n, conversation.pk
            assert conversation.last_message_at == conversation.last, conversation.pk
            assert conversation.events.filter(kind=EventKind.CREATED).count() == 1

    def test_history_spreads_over_two_months_and_nothing_is_in_the_future(self, seeded: dict[str, Any]) -> None:
        now = seeded["now"]
        first = Conversation.objects.order_by("created_at").first()
        assert first is not None and (now - first.created_at).days >= 50
        assert Conversation.objects.filter(created_at__gte=now - timezone.timedelta(days=1)).exists()
        assert not ConversationEvent.objects.filter(created_at__gt=now).exists()
        assert not Message.objects.filter(created_at__gt=now).exists()
        archived = Conversation.objects.filter(status=Status.ARCHIVED)
        assert all(c.resolved_at and (now - c.resolved_at).days >= 7 for c in archived)

    def test_supporting_records_are_valid(self) -> None:
        canned = list(CannedResponse.objects.all())
        assert len(canned) >= 8
        for response in canned:
            response.full_clean()
        bodies = " ".join(response.body for response in canned)
        for variable in CannedResponse.VARIABLES:
            assert "{{" + variable + "}}" in bodies
        assert 15 <= KnowledgeArticle.objects.filter(is_published=True).count() <= 30
        rules = list(RoutingRule.objects.all())
        assert len(rules) >= 2
        for rule in rules:
            rule.full_clean()
        surveys = CSATResponse.objects.select_related("resolution_event")
        assert surveys.filter(rating__isnull=False).count() >= 5
        assert all(s.resolution_event.data.get("to") == Status.RESOLVED for s in surveys)
        assert Notification.objects.filter(read_at__isnull=True).exists()
        assert Notification.objects.filter(read_at__isnull=False).exists()

    def test_login_file_is_private_and_its_passwords_work(self, seeded: dict[str, Any]) -> None:
        path: Path = seeded["var_dir"] / "demo-logins.txt"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        logins = demo.read_logins(path)
        assert {login.username for login in logins} == set(get_user_model().objects.values_list("username", flat=True))
        assert any(
            line.startswith("supervisor  supervisor ") and "(admin)" in line for line in path.read_text().splitlines()
        )
        for login in logins:
            assert login.line in seeded["output"]
            user = authenticate(username=login.username, password=login.password)
            assert user is not None, login.username
        assert authenticate(username="supervisor", password="wrong") is None

    def test_running_again_changes_nothing(self, seeded: dict[str, Any]) -> None:
        before = _row_counts()
        logins = (seeded["var_dir"] / "demo-logins.txt").read_text()
        output = _seed()
        assert "demo data already present" in output
        assert _row_counts() == before
        assert (seeded["var_dir"] / "demo-logins.txt").read_text() == logins
        for login in demo.read_logins(seeded["var_dir"] / "demo-logins.txt"):
            assert login.line in output

    def test_a_missing_login_file_gets_new_working_passwords(self, seeded: dict[str, Any]) -> None:
        path: Path = seeded["var_dir"] / "demo-logins.txt"
        old = {login.username: login.password for login in demo.read_logins(path)}
        path.unlink()
        before = _row_counts()
        output = _seed()
        assert "passwords were reset" in output
        assert _row_counts() == before
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        new = demo.read_logins(path)
        assert {login.username for login in new} == set(old)
        for login in new:
            assert login.password != old[login.username]
            assert login.line in output
            assert authenticate(username=login.username, password=login.password) is not None
            assert authenticate(username=login.username, password=old[login.username]) is None


@pytest.mark.django_db
def test_refuses_to_add_demo_data_to_a_database_in_use(settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    f.InboxFactory(name="Our real chat")
    output = _seed()
    assert "not adding demo data" in output
    assert not Contact.objects.exists()
    assert not get_user_model().objects.filter(username="supervisor").exists()
    assert not (tmp_path / "demo-logins.txt").exists()
