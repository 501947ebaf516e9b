"""Model-level guarantees: normalized unique identities, validated configuration, constraints."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from conversations import channel_config, identities
from conversations.event_schema import EVENT_SCHEMAS, EventSchemaError, validate_event
from conversations.models import ChannelIdentity, Message, Priority
from conversations.uploads import safe_filename
from routing.models import RoutingRule
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "raw", "normalized"),
    [
        ("phone", "(415) 555-0100", "+14155550100"),
        ("phone", "+44 20 7946 0958", "+442079460958"),
        ("whatsapp", "whatsapp:+14155550100", "+14155550100"),
        ("email", "  Sarah@Company.COM ", "sarah@company.com"),
        ("web_visitor", " v_123 ", "v_123"),
    ],
)
def test_identities_are_normalized(kind, raw, normalized):
    assert identities.normalize(kind, raw) == normalized


@pytest.mark.parametrize(("kind", "raw"), [("phone", "12"), ("phone", "hello"), ("email", "not-an-email"), ("api", "")])
def test_invalid_identities_are_refused(kind, raw):
    with pytest.raises(identities.InvalidIdentity):
        identities.normalize(kind, raw)


def test_identity_is_unique_per_kind_and_normalized_value():
    f.ChannelIdentityFactory(kind="phone", value="+14155550100")
    with pytest.raises(IntegrityError), transaction.atomic():
        f.ChannelIdentityFactory(kind="phone", value="(415) 555-0100")
    f.ChannelIdentityFactory(kind="whatsapp", value="+14155550100")  # another kind is another identity
    assert ChannelIdentity.objects.count() == 2


def test_channel_message_id_is_unique_per_inbox_at_the_database():
    message = f.MessageFactory(channel_message_id="SM1")
    with pytest.raises(IntegrityError), transaction.atomic():
        f.MessageFactory(conversation=message.conversation, channel_message_id="SM1")
    f.MessageFactory(conversation=message.conversation, channel_message_id=None)
    f.MessageFactory(conversation=message.conversation, channel_message_id=None)
    assert Message.objects.count() == 3


def test_a_private_note_is_never_inbound_at_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        f.MessageFactory(direction="in", is_private_note=True)


@pytest.mark.parametrize(
    ("kind", "config", "error"),
    [
        ("sms", {"phone_number": "nope"}, "not a phone number"),
        ("sms", {"colour": "red"}, "unknown settings"),
        ("webchat", {"allowed_origins": ["example.com"]}, "must look like"),
        ("webchat", {"allowed_origins": "https://a.com"}, "must be a list"),
        ("email", {"imap_port": "993"}, "must be a int"),
        ("email", {"imap_port": 0}, "imap_port must be a port number"),
        ("api", {"outbound_url": "ftp://x"}, "outbound_url"),
    ],
)
def test_inbox_config_is_checked_per_kind(kind, config, error):
    inbox = f.InboxFactory.build(kind=kind, config=config)
    with pytest.raises(ValidationError, match=error):
        inbox.full_clean()


def test_inbox_config_is_normalized():
    inbox = f.InboxFactory.build(kind="whatsapp", config={"phone_number": "(415) 555-0199"})
    inbox.full_clean()
    assert inbox.config == {"phone_number": "+14155550199"}
    assert isinstance(inbox.typed_config, channel_config.TwilioConfig)
    web = f.InboxFactory.build(kind="webchat", config={"allowed_origins": ["HTTPS://Shop.Example.com/"]})
    web.full_clean()
    assert web.config["allowed_origins"] == ["https://shop.example.com"]


def test_each_inbox_gets_its_own_unguessable_tokens():
    first, second = f.InboxFactory(), f.InboxFactory()
    assert first.webhook_token != second.webhook_token and len(first.webhook_token) >= 32
    assert first.widget_secret != second.widget_secret


@pytest.mark.parametrize(
    ("schedule", "holidays", "error"),
    [
        ({"8": [["09:00", "17:00"]]}, [], "Weekday"),
        ({"1": [["17:00", "09:00"]]}, [], "is not before"),
        ({"1": [["9am", "5pm"]]}, [], "HH:MM"),
        ({"1": [["09:00", "17:00"]]}, ["25/12/2026"], "YYYY-MM-DD"),
    ],
)
def test_business_hours_are_validated(schedule, holidays, error):
    hours = f.BusinessHoursFactory.build(schedule=schedule, holidays=holidays)
    with pytest.raises(ValidationError, match=error):
        hours.full_clean()


def test_business_hours_need_a_real_time_zone():
    with pytest.raises(ValidationError, match="Unknown time zone"):
        f.BusinessHoursFactory.build(timezone="Mars/Olympus").full_clean()


def test_sla_policy_needs_a_target():
    with pytest.raises(ValidationError, match="at least one target"):
        f.SLAPolicyFactory.build(
            first_response_minutes=None, next_response_minutes=None, resolution_minutes=None
        ).full_clean()


def test_canned_response_refuses_unknown_variables():
    with pytest.raises(ValidationError, match="Unknown variables: order_id"):
        f.CannedResponseFactory.build(body="Your order {{order_id}}").full_clean()
    f.CannedResponseFactory.build(body="Hi {{ customer_name }}, {{agent_name}} here").full_clean()


def test_routing_rule_referencing_something_missing_is_refused():
    rule = RoutingRule(name="to nowhere", conditions=[], actions={"team": 99999})
    with pytest.raises(ValidationError, match="team 99999 does not exist"):
        rule.full_clean()
    with pytest.raises(ValidationError, match="Unknown field"):
        RoutingRule(
            name="x", conditions=[{"field": "mood", "operator": "is", "value": 1}], actions={"priority": "high"}
        ).full_clean()
    with pytest.raises(ValidationError, match="unknown priority"):
        RoutingRule(name="x", conditions=[], actions={"priority": "asap"}).full_clean()
    team = f.TeamFactory()
    RoutingRule(
        name="ok",
        conditions=[{"field": "channel", "operator": "is", "value": "whatsapp"}],
        actions={"team": team.pk, "priority": "high", "tags": ["billing"]},
    ).full_clean()


def test_priority_names_round_trip():
    assert Priority.from_name("Urgent") == Priority.URGENT and Priority.URGENT.label == "urgent"
    with pytest.raises(ValueError):
        Priority.from_name("whenever")


def test_agent_notification_preferences_default_per_type():
    agent = f.AgentFactory()
    assert agent.agent_profile.wants("assigned", "in_app")
    assert agent.agent_profile.wants("assigned", "email")
    assert not agent.agent_profile.wants("customer_replied", "email")


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        (".htaccess", "htaccess"),
        ("in\u200bvoice\u202e.pdf", "invoice.pdf"),
        ("", "attachment"),
        ("a<b>c.txt", "a_b_c.txt"),
    ],
)
def test_safe_filenames(raw, safe):
    assert safe_filename(raw) == safe


def test_every_event_type_has_a_schema_that_refuses_bad_shapes():
    assert set(EVENT_SCHEMAS) >= {
        "conversation.created",
        "conversation.updated",
        "message.created",
        "message.updated",
        "typing",
        "presence",
        "notification.created",
    }
    with pytest.raises(EventSchemaError, match="no schema"):
        validate_event({"type": "made.up"})
    with pytest.raises(EventSchemaError):
        validate_event({"type": "typing", "conversation_id": "1"})
