"""The back office (Django admin): every model set up there, conversations changed only through services."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Model
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.models import CSATResponse
from conversations import services
from conversations.models import (
    AgentProfile,
    Attachment,
    BusinessHours,
    CannedResponse,
    ChannelIdentity,
    Contact,
    Conversation,
    ConversationEvent,
    ConversationRead,
    EventKind,
    Inbox,
    Message,
    Notification,
    Priority,
    SLAPolicy,
    Status,
    Tag,
    Team,
    WebhookSubscription,
)
from core.admin import order_app_list
from core.models import WorkerHeartbeat
from core.paginator import EstimatedCountPaginator, is_whole_table, planner_row_estimate
from routing.models import KnowledgeArticle, RoutingRule
from tests import factories as f

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
REGISTERED_IDS = [model._meta.label_lower for model, _ in REGISTERED]


def admin_url(model: type[Model] | Model, view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def back_office(supervisor: Any) -> Any:
    """The supervisor, with every permission in the admin."""
    supervisor.is_superuser = True
    supervisor.save(update_fields=["is_superuser"])
    return supervisor


@pytest.fixture
def client_(client: Any, back_office: Any) -> Any:
    client.force_login(back_office)
    return client


def run_action(client: Any, action: str, conversations: list[Any], **extra: Any) -> Any:
    data = {"action": action, "_selected_action": [c.pk for c in conversations], **extra}
    return client.post(admin_url(Conversation, "changelist"), data, follow=True)


def shown_messages(response: Any) -> list[tuple[int, str]]:
    return [(message.level, str(message)) for message in response.context["messages"]]


# --- Every model is there ----------------------------------------------------------------------


EXPECTED_MODELS = {
    Team,
    AgentProfile,
    BusinessHours,
    SLAPolicy,
    Inbox,
    Contact,
    ChannelIdentity,
    Tag,
    Conversation,
    Message,
    Attachment,
    ConversationRead,
    ConversationEvent,
    CannedResponse,
    Notification,
    WebhookSubscription,
    RoutingRule,
    KnowledgeArticle,
    CSATResponse,
    WorkerHeartbeat,
}


def test_every_domain_model_is_registered() -> None:
    assert set(admin.site._registry) >= EXPECTED_MODELS


def test_user_admin_has_the_agent_profile_inline() -> None:
    from django.contrib.auth import get_user_model

    inline_models = [inline.model for inline in admin.site._registry[get_user_model()].inlines]
    assert AgentProfile in inline_models


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=REGISTERED_IDS)
def test_changelist_answers(client_: Any, model: type[Model], model_admin: Any) -> None:
    response = client_.get(admin_url(model, "changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=REGISTERED_IDS)
def test_add_page_answers_where_addable(client_: Any, back_office: Any, model: type[Model], model_admin: Any) -> None:
    request = RequestFactory().get("/")
    request.user = back_office
    response = client_.get(admin_url(model, "add"))
    assert response.status_code == (200 if model_admin.has_add_permission(request) else 403)


def _one_of_each(model: type[Model], back_office: Any) -> Model | None:
    conversation = f.ConversationFactory()
    makers: dict[type[Model], Any] = {
        Team: lambda: f.TeamFactory(),
        AgentProfile: lambda: f.AgentFactory().agent_profile,
        BusinessHours: lambda: f.BusinessHoursFactory(),
        SLAPolicy: lambda: f.SLAPolicyFactory(),
        Inbox: lambda: conversation.inbox,
        Contact: lambda: f.ChannelIdentityFactory(contact=conversation.contact).contact,
        ChannelIdentity: lambda: f.ChannelIdentityFactory(),
        Tag: lambda: f.TagFactory(),
        Conversation: lambda: conversation,
        Message: lambda: f.MessageFactory(conversation=conversation),
        Attachment: lambda: f.AttachmentFactory(),
        ConversationRead: lambda: f.ConversationReadFactory(),
        ConversationEvent: lambda: f.ConversationEventFactory(),
        CannedResponse: lambda: f.CannedResponseFactory(),
        Notification: lambda: f.NotificationFactory(conversation=conversation),
        WebhookSubscription: lambda: f.WebhookSubscriptionFactory(),
        RoutingRule: lambda: f.RoutingRuleFactory(),
        KnowledgeArticle: lambda: f.KnowledgeArticleFactory(),
        CSATResponse: lambda: f.CSATResponseFactory(comment="Great"),
        WorkerHeartbeat: lambda: WorkerHeartbeat.objects.create(name="worker", last_seen_at=timezone.now()),
        Group: lambda: Group.objects.create(name="Supervisors"),
        type(back_office): lambda: f.AgentFactory(),
    }
    maker = makers.get(model)
    if maker is not None:
        return maker()
    # Any other model: its factory (tests/test_factories.py checks every model has one).
    by_model = {
        factory_class._meta.model: factory_class
        for factory_class in vars(f).values()
        if isinstance(factory_class, type)
        and hasattr(factory_class, "_meta")
        and getattr(factory_class._meta, "model", None)
    }
    return by_model[model]()


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=REGISTERED_IDS)
def test_change_page_answers(client_: Any, back_office: Any, model: type[Model], model_admin: Any) -> None:
    obj = _one_of_each(model, back_office)
    response = client_.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200


def test_index_lists_the_daily_work_first(client_: Any) -> None:
    response = client_.get(reverse("admin:index"))

    assert response.status_code == 200
    app_list = response.context["app_list"]
    labels = [app["app_label"] for app in app_list]
    assert labels[:3] == ["conversations", "routing", "analytics"]
    assert labels.index("auth") < labels.index("core")
    conversation_models = [model["object_name"] for model in app_list[0]["models"]]
    assert conversation_models[:3] == ["Conversation", "Contact", "Inbox"]
    assert conversation_models.index("Inbox") < conversation_models.index("ConversationEvent")


def test_index_order_puts_unknown_apps_and_models_last() -> None:
    app_list = [
        {"app_label": "zeta", "name": "Zeta", "models": []},
        {"app_label": "core", "name": "Operations", "models": []},
        {
            "app_label": "conversations",
            "name": "Conversations",
            "models": [
                {"object_name": "Brand", "name": "Brands"},
                {"object_name": "Inbox", "name": "Inboxes"},
                {"object_name": "Conversation", "name": "Conversations"},
            ],
        },
    ]

    ordered = order_app_list(app_list)

    assert [app["app_label"] for app in ordered] == ["conversations", "core", "zeta"]
    assert [model["object_name"] for model in ordered[0]["models"]] == ["Conversation", "Inbox", "Brand"]


# --- A conversation's page -------------------------------------------------------------------


def test_conversation_page_shows_messages_escaped_and_private_notes_marked(
    client_: Any, conversation: Conversation, agent: Any
) -> None:
    f.MessageFactory(conversation=conversation, body="<script>alert(1)</script>")
    services.note_add(conversation=conversation, author=agent, body="Offer the refund, she is a VIP")
    services.message_send_reply(conversation=conversation, author=agent, body="We are on it.")

    response = client_.get(admin_url(Conversation, "change", conversation.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
    assert '<span class="private-note-label">Private note</span>' in html
    assert '<span class="message-body private-note">Offer the refund, she is a VIP</span>' in html
    assert '<span class="message-body">We are on it.</span>' in html
    # Oldest first.
    assert html.index("alert(1)") < html.index("Offer the refund") < html.index("We are on it.")
    # The timeline, read-only.
    assert "Internal note" in html
    assert "Reply sent" in html


def test_conversation_page_is_read_only(client_: Any, conversation: Conversation) -> None:
    url = admin_url(Conversation, "change", conversation.pk)

    page = client_.get(url).content.decode()
    response = client_.post(url, {"status": "resolved", "priority": Priority.URGENT, "assignee": ""})

    assert 'name="status"' not in page
    assert 'name="priority"' not in page
    assert 'name="assignee"' not in page
    assert response.status_code == 403
    conversation.refresh_from_db()
    assert conversation.status == Status.ACTIVE


def test_conversations_are_neither_added_nor_deleted_in_the_back_office(
    client_: Any, conversation: Conversation
) -> None:
    assert client_.get(admin_url(Conversation, "add")).status_code == 403
    assert client_.get(admin_url(Conversation, "delete", conversation.pk)).status_code == 403
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_conversation_list_escapes_what_customers_wrote(client_: Any, inbox: Inbox) -> None:
    contact = f.ContactFactory(name="<b>Eve</b>")
    f.ConversationFactory(inbox=inbox, contact=contact, last_message_preview="<img src=x onerror=alert(1)>")

    html = client_.get(admin_url(Conversation, "changelist")).content.decode()

    assert "&lt;b&gt;Eve&lt;/b&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html


# --- Actions go through the services ---------------------------------------------------------


def _conversation_changes(
    conversation: Conversation, supervisor: Any, agent: Any
) -> dict[str, tuple[Any, Any, str, Any]]:
    """action name -> (prepare, check of the row, event kind, check of the event data)."""
    return {
        "assign_to_me": (None, lambda c: c.assignee_id == supervisor.pk, EventKind.ASSIGNED, None),
        "unassign": (
            lambda: services.conversation_assign(conversation=conversation, assignee=agent, actor=agent),
            lambda c: c.assignee_id is None,
            EventKind.UNASSIGNED,
            None,
        ),
        "mark_pending": (None, lambda c: c.status == Status.PENDING, EventKind.STATUS, {"to": "pending"}),
        "mark_resolved": (None, lambda c: c.status == Status.RESOLVED, EventKind.STATUS, {"to": "resolved"}),
        "archive": (None, lambda c: c.status == Status.ARCHIVED, EventKind.STATUS, {"to": "archived"}),
        "mark_active": (
            lambda: services.conversation_set_status(conversation=conversation, status="pending", actor=agent),
            lambda c: c.status == Status.ACTIVE,
            EventKind.STATUS,
            {"to": "active"},
        ),
        "set_priority_urgent": (None, lambda c: c.priority == Priority.URGENT, EventKind.PRIORITY, {"to": "urgent"}),
        "set_priority_high": (None, lambda c: c.priority == Priority.HIGH, EventKind.PRIORITY, {"to": "high"}),
        "set_priority_low": (None, lambda c: c.priority == Priority.LOW, EventKind.PRIORITY, {"to": "low"}),
        "set_priority_normal": (
            lambda: services.conversation_set_priority(
                conversation=conversation, priority="low", actor=agent, reason="test setup"
            ),
            lambda c: c.priority == Priority.NORMAL,
            EventKind.PRIORITY,
            {"to": "normal"},
        ),
    }


ACTIONS = [
    "assign_to_me",
    "unassign",
    "mark_active",
    "mark_pending",
    "mark_resolved",
    "archive",
    "set_priority_urgent",
    "set_priority_high",
    "set_priority_normal",
    "set_priority_low",
]


@pytest.mark.parametrize("action", ACTIONS)
def test_action_changes_the_conversation_through_its_service(
    client_: Any,
    back_office: Any,
    agent: Any,
    conversation: Conversation,
    live_events: Any,
    committed: Any,
    action: str,
) -> None:
    prepare, changed, event_kind, event_data = _conversation_changes(conversation, back_office, agent)[action]
    if prepare is not None:
        prepare()
    live_events.clear()
    before = set(ConversationEvent.objects.filter(conversation=conversation).values_list("pk", flat=True))

    with committed():
        response = run_action(client_, action, [conversation])

    assert response.status_code == 200
    conversation.refresh_from_db()
    assert changed(conversation)
    new_events = ConversationEvent.objects.filter(conversation=conversation).exclude(pk__in=before)
    event = new_events.get(kind=event_kind)
    assert event.actor_id == back_office.pk
    for key, value in (event_data or {}).items():
        assert event.data[key] == value
    if event_kind == EventKind.PRIORITY:
        assert event.data["reason"] == "bulk change in the back office by sam"
    updates = [e for e in live_events.of_type("conversation.updated") if e["conversation"]["id"] == conversation.pk]
    assert updates
    assert [level for level, _ in shown_messages(response)] == [messages.SUCCESS]


def test_action_calls_the_service_once_per_conversation(
    client_: Any, inbox: Inbox, live_events: Any, committed: Any
) -> None:
    conversations = [f.ConversationFactory(inbox=inbox) for _ in range(3)]

    with committed():
        response = run_action(client_, "mark_resolved", conversations)

    assert Conversation.objects.filter(status=Status.RESOLVED).count() == 3
    assert ConversationEvent.objects.filter(kind=EventKind.STATUS, data__to="resolved").count() == 3
    assert len(live_events.of_type("conversation.updated")) == 3
    assert shown_messages(response) == [(messages.SUCCESS, "Set to resolved: 3 conversations.")]


def test_assigning_to_an_agent_outside_the_inbox_is_refused_with_a_warning(
    client_: Any, conversation: Conversation, outsider: Any, live_events: Any, committed: Any
) -> None:
    theirs = f.ConversationFactory(inbox=Inbox.objects.get(name="Other inbox"))

    with committed():
        response = run_action(client_, "assign_to_chosen_agent", [conversation, theirs], agent=outsider.pk)

    assert response.status_code == 200
    assert shown_messages(response) == [
        (messages.SUCCESS, "Assigned to mallory: 1 conversation."),
        (
            messages.WARNING,
            f"Conversation #{conversation.pk} was not changed: mallory is not a member of the inbox Website chat.",
        ),
    ]
    conversation.refresh_from_db()
    theirs.refresh_from_db()
    assert conversation.assignee_id is None
    assert theirs.assignee_id == outsider.pk
    assert not ConversationEvent.objects.filter(conversation=conversation, kind=EventKind.ASSIGNED).exists()
    assert [e["conversation"]["id"] for e in live_events.of_type("conversation.updated")] == [theirs.pk]


def test_assigning_to_a_chosen_agent_needs_an_agent(client_: Any, conversation: Conversation) -> None:
    response = run_action(client_, "assign_to_chosen_agent", [conversation], agent="")

    assert shown_messages(response) == [(messages.WARNING, "Choose an agent beside the action, then run it again.")]
    conversation.refresh_from_db()
    assert conversation.assignee_id is None


def test_a_refusal_from_any_service_is_a_warning_not_an_error(
    client_: Any, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused, accepted = f.ConversationFactory(inbox=inbox), f.ConversationFactory(inbox=inbox)
    real = services.conversation_set_status

    def refuse_one(*, conversation: Conversation, **kwargs: Any) -> Conversation:
        if conversation.pk == refused.pk:
            raise services.ServiceError("This conversation is locked by a legal hold.")
        return real(conversation=conversation, **kwargs)

    monkeypatch.setattr(services, "conversation_set_status", refuse_one)

    response = run_action(client_, "archive", [refused, accepted])

    assert response.status_code == 200
    assert shown_messages(response) == [
        (messages.SUCCESS, "Set to archived: 1 conversation."),
        (messages.WARNING, f"Conversation #{refused.pk} was not changed: This conversation is locked by a legal hold."),
    ]
    assert Conversation.objects.get(pk=accepted.pk).status == Status.ARCHIVED
    assert Conversation.objects.get(pk=refused.pk).status == Status.ACTIVE


def test_actions_offer_no_bulk_delete(client_: Any, back_office: Any) -> None:
    request = RequestFactory().get("/")
    request.user = back_office
    actions = admin.site._registry[Conversation].get_actions(request)

    assert "delete_selected" not in actions
    assert {"assign_to_me", "unassign", "archive", "set_priority_urgent"} <= set(actions)


# --- The audit trail and the messages are read-only ------------------------------------------


def test_conversation_events_cannot_be_added_changed_or_deleted(client_: Any, back_office: Any) -> None:
    event = f.ConversationEventFactory()
    model_admin = admin.site._registry[ConversationEvent]
    request = RequestFactory().get("/")
    request.user = back_office

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    assert "delete_selected" not in model_admin.get_actions(request)
    assert client_.get(admin_url(ConversationEvent, "add")).status_code == 403
    assert client_.post(admin_url(ConversationEvent, "change", event.pk), {"kind": "status"}).status_code == 403
    assert client_.post(admin_url(ConversationEvent, "delete", event.pk), {"post": "yes"}).status_code == 403
    assert ConversationEvent.objects.filter(pk=event.pk, kind=EventKind.CREATED).exists()


def test_messages_cannot_be_added_or_changed(client_: Any, conversation: Conversation) -> None:
    message = f.MessageFactory(conversation=conversation, body="original")

    assert client_.get(admin_url(Message, "add")).status_code == 403
    assert client_.post(admin_url(Message, "change", message.pk), {"body": "rewritten"}).status_code == 403
    message.refresh_from_db()
    assert message.body == "original"


# --- Inboxes and their secrets ---------------------------------------------------------------

SECRETS = {"auth_token": "tok-SECRET-4242", "imap_password": "pw-SECRET-8181"}


def inbox_form_data(inbox: Inbox, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": inbox.name,
        "kind": inbox.kind,
        "is_active": "on",
        "config": json.dumps(inbox.config),
        "members": [member.pk for member in inbox.members.all()] if inbox.pk else [],
        "default_team": inbox.default_team_id or "",
        "assignment_strategy": "",
        "business_hours": "",
        "sla_policy": "",
        "pending_after_minutes": "60",
        "archive_after_days": "7",
        "assistant_enabled": "on",
        "assistant_mode": "auto_reply",
        "confidence_threshold": "0.5",
        "fallback_handoff_after": "2",
        "handoff_keywords": '["refund"]',
        "intake_questions": "[]",
        "csat_enabled": "on",
        "new_credentials": "",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def test_inbox_credentials_never_appear_in_the_back_office(client_: Any, inbox: Inbox) -> None:
    inbox.credentials = SECRETS
    inbox.save()

    pages = [
        client_.get(admin_url(Inbox, "changelist")),
        client_.get(admin_url(Inbox, "changelist"), {"q": "tok-SECRET"}),
        client_.get(admin_url(Inbox, "change", inbox.pk)),
    ]

    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        for secret in SECRETS.values():
            assert secret not in html
    change_page = pages[-1].content.decode()
    assert "auth_token: ••••••" in change_page
    assert inbox.webhook_token in change_page  # shown to configure the provider, but not editable
    assert 'name="webhook_token"' not in change_page
    assert 'name="widget_secret"' not in change_page
    assert 'name="credentials"' not in change_page


def test_inbox_credentials_are_replaced_not_echoed(client_: Any, inbox: Inbox) -> None:
    inbox.credentials = SECRETS
    inbox.save()
    url = admin_url(Inbox, "change", inbox.pk)

    kept = client_.post(url, inbox_form_data(inbox, pending_after_minutes="30"))
    inbox.refresh_from_db()
    assert kept.status_code == 302
    assert inbox.credentials == SECRETS
    assert inbox.pending_after_minutes == 30

    replaced = client_.post(url, inbox_form_data(inbox, new_credentials='{"auth_token": "tok-NEW-1"}'))
    inbox.refresh_from_db()
    assert replaced.status_code == 302
    assert inbox.credentials == {"auth_token": "tok-NEW-1"}

    refused = client_.post(url, inbox_form_data(inbox, new_credentials='["not", "an", "object"]'))
    inbox.refresh_from_db()
    assert refused.status_code == 200
    assert "Credentials are a JSON object" in refused.content.decode()
    assert inbox.credentials == {"auth_token": "tok-NEW-1"}


def test_inbox_config_is_checked_by_the_model(client_: Any, inbox: Inbox) -> None:
    url = admin_url(Inbox, "change", inbox.pk)

    response = client_.post(
        url, inbox_form_data(inbox, config='{"allowed_origins": ["javascript:alert(1)"]}', new_credentials='{"a": "b"}')
    )

    assert response.status_code == 200
    assert "must look like https://www.example.com" in response.content.decode()
    inbox.refresh_from_db()
    assert inbox.config == {"allowed_origins": ["https://www.example.com"]}
    assert inbox.credentials == {}


def test_a_supervisor_sets_up_a_new_inbox(client_: Any, agent: Any, team: Team) -> None:
    sla = f.SLAPolicyFactory()
    hours = f.BusinessHoursFactory()
    data = inbox_form_data(
        Inbox(name="SMS line", kind="sms", config={"phone_number": "(415) 555-0100"}),
        members=[agent.pk],
        default_team=team.pk,
        sla_policy=sla.pk,
        business_hours=hours.pk,
        archive_after_days="14",
        new_credentials='{"auth_token": "tok-SMS"}',
    )

    response = client_.post(admin_url(Inbox, "add"), data)

    assert response.status_code == 302
    inbox = Inbox.objects.get(name="SMS line")
    assert inbox.config == {"phone_number": "+14155550100"}
    assert inbox.credentials == {"auth_token": "tok-SMS"}
    assert list(inbox.members.all()) == [agent]
    assert (inbox.default_team, inbox.sla_policy, inbox.business_hours) == (team, sla, hours)
    assert inbox.archive_after_days == 14


# --- Search ----------------------------------------------------------------------------------


def _search(client: Any, term: str) -> list[int]:
    response = client.get(admin_url(Conversation, "changelist"), {"q": term})
    assert response.status_code == 200
    return sorted(c.pk for c in response.context["cl"].result_list)


def test_conversations_are_found_by_contact_identity_and_id(client_: Any, conversation: Conversation) -> None:
    f.ChannelIdentityFactory(contact=conversation.contact, kind="email", value="carol@example.com")
    f.ChannelIdentityFactory(contact=conversation.contact, kind="phone", value="+14155550123")
    other = f.ConversationFactory(inbox=conversation.inbox, contact=f.ContactFactory(name="Dave Other"))

    assert _search(client_, "Carol") == [conversation.pk]
    assert _search(client_, "carol@example.com") == [conversation.pk]
    assert _search(client_, "4155550123") == [conversation.pk]
    assert _search(client_, f"#{other.pk}") == [other.pk]
    assert _search(client_, f"#{conversation.pk}") == [conversation.pk]
    # A bare number is an id, and also the digits of a phone number.
    assert other.pk in _search(client_, str(other.pk))
    assert _search(client_, "nobody-like-this") == []


def test_a_contact_links_to_their_conversations(client_: Any, conversation: Conversation) -> None:
    f.ConversationFactory(inbox=conversation.inbox)
    contact_page = client_.get(admin_url(Contact, "change", conversation.contact_id)).content.decode()
    link = f"{admin_url(Conversation, 'changelist')}?contact__id__exact={conversation.contact_id}"
    assert link in contact_page

    response = client_.get(link)

    assert [c.pk for c in response.context["cl"].result_list] == [conversation.pk]


def test_events_are_found_by_conversation_id(client_: Any, conversation: Conversation) -> None:
    mine = f.ConversationEventFactory(conversation=conversation)
    f.ConversationEventFactory()

    response = client_.get(admin_url(ConversationEvent, "changelist"), {"q": f"#{conversation.pk}"})

    assert [event.pk for event in response.context["cl"].result_list] == [mine.pk]


# --- Setting up the rest ---------------------------------------------------------------------


def test_a_routing_rule_is_checked_by_its_clean(client_: Any) -> None:
    data = {
        "name": "VIPs first",
        "position": "1",
        "is_active": "on",
        "match": "all",
        "conditions": '[{"field": "segment", "operator": "is", "value": "vip"}]',
        "actions": '{"priority": "sky-high"}',
        "stop_processing": "on",
    }

    refused = client_.post(admin_url(RoutingRule, "add"), data)
    accepted = client_.post(admin_url(RoutingRule, "add"), {**data, "actions": '{"priority": "urgent"}'})

    assert refused.status_code == 200
    assert "unknown priority" in refused.content.decode()
    assert accepted.status_code == 302
    assert RoutingRule.objects.get().actions == {"priority": "urgent"}


def test_routing_rules_are_reordered_in_the_list(client_: Any) -> None:
    first, second = f.RoutingRuleFactory(position=1), f.RoutingRuleFactory(position=2)
    data = {
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "2",
        "form-0-id": str(first.pk),
        "form-0-position": "5",
        "form-0-is_active": "on",
        "form-1-id": str(second.pk),
        "form-1-position": "2",
        "form-1-is_active": "on",
        "_save": "Save",
    }

    response = client_.post(admin_url(RoutingRule, "changelist"), data)

    assert response.status_code == 302
    assert list(RoutingRule.objects.values_list("pk", flat=True)) == [second.pk, first.pk]


def test_a_webhook_subscription_records_who_made_it(client_: Any, back_office: Any) -> None:
    data = {"url": "https://hooks.example.com/x", "event_types": ["message.created", "contact.created"]}

    response = client_.post(admin_url(WebhookSubscription, "add"), {**data, "is_active": "on"})

    assert response.status_code == 302
    subscription = WebhookSubscription.objects.get()
    assert subscription.event_types == ["message.created", "contact.created"]
    assert subscription.created_by == back_office


class _FormFields(HTMLParser):
    """What a browser would submit from one form of a page: inputs, checked boxes, selected options, textareas."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name: str | None, value: str | None) -> None:
        if name:
            self.data.setdefault(name, []).append(value or "")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self._add(a.get("name"), a.get("value", "on" if a.get("type") == "checkbox" else ""))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value"))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self._add(self._textarea, "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea][-1] += data


def form_data(html: str, form_id: str) -> dict[str, Any]:
    parser = _FormFields(form_id)
    parser.feed(html)
    return {name: values if len(values) > 1 else values[0] for name, values in parser.data.items()}


def test_an_agent_is_set_up_on_the_user_page(client_: Any, agent: Any, team: Team) -> None:
    from django.contrib.auth import get_user_model

    url = admin_url(get_user_model(), "change", agent.pk)
    data = form_data(client_.get(url).content.decode(), "user_form")
    assert data["agent_profile-0-capacity"] == "5"

    data.update({"agent_profile-0-capacity": "9", "agent_profile-0-skills": '["billing"]', "_save": "Save"})
    response = client_.post(url, data)

    assert response.status_code == 302
    profile = AgentProfile.objects.get(user=agent)
    assert (profile.capacity, profile.skills) == (9, ["billing"])
    assert list(profile.teams.all()) == [team]


def test_saving_a_user_without_a_profile_does_not_make_them_an_agent(client_: Any) -> None:
    from django.contrib.auth import get_user_model

    user = f.UserFactory(username="accountant", is_staff=True)
    url = admin_url(get_user_model(), "change", user.pk)
    data = form_data(client_.get(url).content.decode(), "user_form")

    response = client_.post(url, {**data, "first_name": "Anna", "_save": "Save"})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.first_name == "Anna"
    assert not AgentProfile.objects.filter(user_id=user.pk).exists()


def test_a_supervisor_who_may_only_look_sees_inboxes_and_conversations_read_only(
    client: Any, conversation: Conversation
) -> None:
    from django.contrib.auth.models import Permission

    viewer = f.UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=["view_inbox", "view_conversation", "view_message"])
    )
    client.force_login(viewer)
    conversation.inbox.credentials = SECRETS
    conversation.inbox.save()

    inbox_page = client.get(admin_url(Inbox, "change", conversation.inbox_id))
    conversation_page = client.get(admin_url(Conversation, "change", conversation.pk))
    changelist = client.get(admin_url(Conversation, "changelist"))

    assert inbox_page.status_code == 200
    assert "new_credentials" not in inbox_page.content.decode()
    assert SECRETS["auth_token"] not in inbox_page.content.decode()
    assert conversation_page.status_code == 200
    assert changelist.status_code == 200
    assert 'value="assign_to_me"' not in changelist.content.decode()


# --- Big tables: constant queries, estimated counts ------------------------------------------


@pytest.mark.parametrize("model", [Conversation, Message, Contact, ConversationEvent, Notification])
def test_changelist_queries_do_not_grow_with_the_rows(
    client_: Any, inbox: Inbox, agent: Any, model: type[Model]
) -> None:
    def add_rows(n: int) -> None:
        for _ in range(n):
            conversation = f.ConversationFactory(inbox=inbox, assignee=agent)
            conversation.tags.add(f.TagFactory())
            f.ChannelIdentityFactory(contact=conversation.contact)
            f.MessageFactory(conversation=conversation)
            f.ConversationEventFactory(conversation=conversation)
            f.NotificationFactory(recipient=agent, conversation=conversation)

    url = admin_url(model, "changelist")
    add_rows(2)
    client_.get(url)  # warm the session and the content types
    with CaptureQueriesContext(connection) as few:
        assert client_.get(url).status_code == 200
    add_rows(5)
    with CaptureQueriesContext(connection) as more:
        assert client_.get(url).status_code == 200

    assert len(more) == len(few)


def test_conversation_page_queries_do_not_grow_with_the_messages(
    client_: Any, conversation: Conversation, agent: Any
) -> None:
    def add_messages(n: int) -> None:
        for _ in range(n):
            f.AttachmentFactory(message=f.MessageFactory(conversation=conversation))
            services.note_add(conversation=conversation, author=agent, body="A note")
            services.message_send_reply(conversation=conversation, author=agent, body="A reply")

    url = admin_url(Conversation, "change", conversation.pk)
    add_messages(1)
    client_.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client_.get(url).status_code == 200
    add_messages(4)
    with CaptureQueriesContext(connection) as more:
        assert client_.get(url).status_code == 200

    assert len(more) == len(few)


def test_paginator_counts_lists_and_filtered_querysets_exactly(db: Any) -> None:
    f.ContactFactory.create_batch(3, name="Zed")
    f.ContactFactory(name="Amy")

    class Eager(EstimatedCountPaginator):
        estimate_above = 0

    assert Eager([1, 2, 3], per_page=2).count == 3
    assert Eager(Contact.objects.filter(name="Zed").order_by("pk"), per_page=2).count == 3
    assert Eager(Contact.objects.filter(name="Zed").order_by("pk"), per_page=2).num_pages == 2
    assert not is_whole_table(Contact.objects.filter(name="Zed").query)
    assert not is_whole_table(Contact.objects.distinct().query)
    assert not is_whole_table(Contact.objects.all()[:2].query)
    assert is_whole_table(Contact.objects.select_related("merged_into").order_by("-created_at").query)


def test_paginator_counts_exactly_without_postgresql(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    f.ContactFactory.create_batch(3)
    monkeypatch.setattr(connection, "vendor", "sqlite")

    class Eager(EstimatedCountPaginator):
        estimate_above = 0

    assert planner_row_estimate(Contact.objects.all()) is None
    assert Eager(Contact.objects.order_by("pk"), per_page=10).count == 3


@pytest.mark.postgres
def test_paginator_uses_the_planner_estimate_for_a_large_unfiltered_table(
    client_: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = connection.ops.quote_name(Contact._meta.db_table)
    Contact.objects.bulk_create([Contact(name=f"Contact {i}") for i in range(30)])
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
        # Rows added after the statistics were taken: the estimate does not know of them.
        Contact.objects.bulk_create([Contact(name="Late") for _ in range(5)])

        class Eager(EstimatedCountPaginator):
            estimate_above = 10

        assert planner_row_estimate(Contact.objects.all()) == 30
        assert Eager(Contact.objects.order_by("pk"), per_page=10).count == 30
        assert Eager(Contact.objects.order_by("-created_at"), per_page=10).count == 30
        assert Eager(Contact.objects.filter(name="Late").order_by("pk"), per_page=10).count == 5
        assert EstimatedCountPaginator(Contact.objects.order_by("pk"), per_page=10).count == 35  # small: counted

        monkeypatch.setattr(EstimatedCountPaginator, "estimate_above", 10)
        unfiltered = client_.get(admin_url(Contact, "changelist"))
        filtered = client_.get(admin_url(Contact, "changelist"), {"q": "Late"})
        assert unfiltered.context["cl"].result_count == 30
        assert filtered.context["cl"].result_count == 5
    finally:
        # ANALYZE writes its statistics outside the test's transaction: leave an empty table's behind.
        Contact.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
