"""factory_boy factories for every model."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone

from analytics.models import AnalyticsState, CSATResponse, DailyRollup, FactKind, MetricFact
from channels_app.email.models import MailboxState
from conversations import models as m
from core.models import ApiToken, BeatLease, OutboxEntry, WorkerHeartbeat, hash_token_key
from routing.models import AgentRotation, KnowledgeArticle, RoutingRule

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", "pw-correct-horse-42")

    @factory.post_generation
    def _save(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class AgentProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.AgentProfile
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)
    availability = m.Availability.ONLINE
    capacity = 5


class AgentFactory(UserFactory):
    """A user who answers customers: has an agent profile."""

    profile = factory.RelatedFactory(AgentProfileFactory, factory_related_name="user")


class SupervisorFactory(AgentFactory):
    is_staff = True


class BusinessHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.BusinessHours

    name = factory.Sequence(lambda n: f"Hours {n}")
    timezone = "Europe/Berlin"
    schedule = factory.LazyFunction(lambda: {str(d): [["09:00", "17:00"]] for d in range(1, 6)})


class SLAPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.SLAPolicy

    name = factory.Sequence(lambda n: f"SLA {n}")
    first_response_minutes = 60
    next_response_minutes = 240
    resolution_minutes = 24 * 60


class InboxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Inbox
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Inbox {n}")
    kind = m.ChannelKind.WEBCHAT
    config = factory.LazyAttribute(
        lambda o: {
            "webchat": {"allowed_origins": ["https://www.example.com"]},
            "sms": {"phone_number": "+15005550006"},
            "whatsapp": {"phone_number": "+15005550007"},
            "voice": {"phone_number": "+15005550008"},
            "email": {"address": "support@example.com"},
            "api": {"outbound_url": "https://hooks.example.com/outbound"},
        }[o.kind]
    )

    @factory.post_generation
    def members(obj: m.Inbox, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            obj.members.add(*extracted)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Contact

    name = factory.Faker("name")
    language = "en"


class ChannelIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ChannelIdentity

    contact = factory.SubFactory(ContactFactory)
    kind = m.IdentityKind.PHONE
    value = factory.Sequence(lambda n: f"+1415555{n:04d}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Conversation

    inbox = factory.SubFactory(InboxFactory)
    contact = factory.SubFactory(ContactFactory)
    status = m.Status.ACTIVE
    handler = m.Handler.HUMAN
    priority = m.Priority.NORMAL
    last_message_preview = "Hello"


class OpenConversationCountFactory(factory.django.DjangoModelFactory):
    """A counter row (normally written only by the triggers of migration 0007)."""

    class Meta:
        model = m.OpenConversationCount

    inbox = factory.SubFactory(InboxFactory)
    team_key = factory.Sequence(lambda n: 1_000_000 + n)  # no team's id: never a row the triggers keep
    assignee_key = 0
    status = m.Status.ACTIVE
    handler = m.Handler.HUMAN
    customer_spoke_last = True
    urgent = False
    n = 1


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Message

    conversation = factory.SubFactory(ConversationFactory)
    inbox = factory.LazyAttribute(lambda o: o.conversation.inbox)
    direction = m.Direction.INBOUND
    sender_kind = m.SenderKind.CONTACT
    sender_contact = factory.LazyAttribute(lambda o: o.conversation.contact if o.direction == "in" else None)
    body = factory.Faker("sentence")


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Attachment

    message = factory.SubFactory(MessageFactory)
    filename = "note.txt"
    content_type = "text/plain"
    size = 5
    file = factory.LazyFunction(lambda: ContentFile(b"hello", name="note.txt"))


class ConversationReadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ConversationRead

    conversation = factory.SubFactory(ConversationFactory)
    user = factory.SubFactory(AgentFactory)
    last_read_at = factory.LazyFunction(timezone.now)


class ConversationEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ConversationEvent

    conversation = factory.SubFactory(ConversationFactory)
    kind = m.EventKind.CREATED
    actor_kind = m.SenderKind.SYSTEM


class CannedResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.CannedResponse

    shortcut = factory.Sequence(lambda n: f"canned-{n}")
    title = "Greeting"
    body = "Hi {{customer_name}}, this is {{agent_name}} from {{company_name}}."


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Notification

    recipient = factory.SubFactory(AgentFactory)
    kind = m.NotificationKind.ASSIGNED
    title = "Assigned to you"


class ReminderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Reminder

    conversation = factory.SubFactory(ConversationFactory)
    user = factory.SubFactory(AgentFactory)
    remind_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    note = "Check whether the refund arrived"


class WebhookSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.WebhookSubscription

    url = "https://hooks.example.com/inbox"
    event_types = factory.LazyFunction(lambda: ["message.created"])


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    conditions = factory.LazyFunction(lambda: [{"field": "channel", "operator": "is", "value": "sms"}])
    actions = factory.LazyFunction(lambda: {"priority": "high"})


class KnowledgeArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KnowledgeArticle

    title = factory.Sequence(lambda n: f"How to do thing {n}")
    body = factory.Faker("paragraph")


class CSATResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CSATResponse

    conversation = factory.SubFactory(ConversationFactory)
    resolution_event = factory.LazyAttribute(
        lambda o: m.ConversationEvent.objects.create(
            conversation=o.conversation, kind=m.EventKind.STATUS, actor_kind="system", data={"to": "resolved"}
        )
    )
    rating = 5


class WorkerHeartbeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkerHeartbeat

    name = factory.Sequence(lambda n: f"worker-{n}")
    last_seen_at = factory.LazyFunction(timezone.now)


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.WebhookDelivery

    subscription = factory.SubFactory(WebhookSubscriptionFactory)
    event_id = factory.Sequence(lambda n: f"evt{n:08d}")
    event_type = "message.created"
    payload = factory.LazyFunction(lambda: {"type": "message.created", "data": {}})


class ApiTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiToken

    user = factory.SubFactory(AgentFactory)
    name = "integration"
    prefix = factory.Sequence(lambda n: f"tok{n:05d}")
    key_hash = factory.Sequence(lambda n: hash_token_key(f"test-key-{n}"))


class MailboxStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MailboxState

    inbox = factory.SubFactory(InboxFactory, kind="email", config={"address": "help@example.com"})


class AgentRotationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentRotation

    team = factory.SubFactory(TeamFactory)
    agent = factory.SubFactory(AgentFactory)


class OutboxEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutboxEntry

    task_name = "core.tasks.record_heartbeat"
    args = factory.LazyFunction(lambda: ["worker"])


class BeatLeaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BeatLease

    name = factory.Sequence(lambda n: f"lease-{n}")
    holder = "beat@host:1"
    expires_at = factory.LazyFunction(timezone.now)


class MetricFactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MetricFact

    event = factory.SubFactory(ConversationEventFactory)
    conversation = factory.LazyAttribute(lambda o: o.event.conversation)
    kind = FactKind.CREATED
    occurred_at = factory.LazyFunction(timezone.now)
    day = factory.LazyAttribute(lambda o: timezone.localtime(o.occurred_at).date())
    inbox_id = factory.LazyAttribute(lambda o: o.conversation.inbox_id)
    channel = factory.LazyAttribute(lambda o: o.conversation.inbox.kind)


class DailyRollupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DailyRollup

    day = factory.LazyFunction(lambda: timezone.localdate())
    inbox_id = 1
    channel = "webchat"
    new = 1


class AnalyticsStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnalyticsState
