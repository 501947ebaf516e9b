from __future__ import annotations

from typing import Any

import pytest

from conversations.models import Inbox, Team
from tests import factories as f
from tests.api.conftest import error_of

# --- Inboxes ---------------------------------------------------------------------------------


def test_inbox_shows_the_provider_urls(api: Any, sms_inbox: Any, settings: Any) -> None:
    settings.PUBLIC_BASE_URL = "https://support.example.com"
    body = api.get(f"/api/v1/inboxes/{sms_inbox.pk}/").json()
    token = sms_inbox.webhook_token
    assert (
        body["provider_urls"]["twilio_messages_url"] == f"https://support.example.com/channels/twilio/{token}/messages/"
    )
    assert (
        body["provider_urls"]["twilio_status_callback_url"]
        == f"https://support.example.com/channels/twilio/{token}/status/"
    )
    assert body["provider_urls"]["widget_snippet"] is None


def test_provider_urls_per_kind(settings: Any, db: Any) -> None:
    from conversations.api.provider_urls import provider_urls

    settings.PUBLIC_BASE_URL = "https://x.test/"
    voice = f.InboxFactory(kind="voice")
    api_inbox = f.InboxFactory(kind="api")
    chat = f.InboxFactory(kind="webchat")
    assert provider_urls(voice)["twilio_voice_url"] == f"https://x.test/channels/twilio/{voice.webhook_token}/voice/"
    assert provider_urls(api_inbox)["api_inbound_url"] == f"https://x.test/channels/api/{api_inbox.pk}/messages/"
    assert provider_urls(chat)["widget_snippet"] == (
        f'<script src="https://x.test/static/webchat/widget.js" data-inbox="{chat.webhook_token}" async></script>'
    )


def test_secrets_are_never_shown_to_agents(api: Any, inbox: Any) -> None:
    inbox.credentials = {"password": "hunter2"}
    inbox.save()
    body = api.get(f"/api/v1/inboxes/{inbox.pk}/").json()
    assert "credentials" not in body
    assert body["widget_secret"] is None
    assert "hunter2" not in str(body)


def test_supervisors_see_the_widget_secret_but_not_credentials(client_for: Any, supervisor: Any, inbox: Any) -> None:
    inbox.credentials = {"password": "hunter2"}
    inbox.save()
    body = client_for(supervisor).get(f"/api/v1/inboxes/{inbox.pk}/").json()
    assert body["widget_secret"] == inbox.widget_secret
    assert "hunter2" not in str(body)


def test_outsider_cannot_see_the_inbox(client_for: Any, outsider: Any, inbox: Any) -> None:
    api = client_for(outsider)
    assert inbox.pk not in [i["id"] for i in api.get("/api/v1/inboxes/").json()["results"]]
    assert api.get(f"/api/v1/inboxes/{inbox.pk}/").status_code == 404


def test_agents_cannot_change_inboxes(api: Any, inbox: Any) -> None:
    response = api.patch(f"/api/v1/inboxes/{inbox.pk}/", {"name": "Mine now"}, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


def test_supervisor_creates_an_inbox_validated_by_the_model(client_for: Any, supervisor: Any) -> None:
    api = client_for(supervisor)
    bad = api.post("/api/v1/inboxes/", {"name": "Texts", "kind": "sms", "config": {"colour": "red"}}, format="json")
    assert bad.status_code == 400 and "config" in error_of(bad)["fields"]
    good = api.post(
        "/api/v1/inboxes/", {"name": "Texts", "kind": "sms", "config": {"phone_number": "+15005550006"}}, format="json"
    )
    assert good.status_code == 201, good.json()
    assert good.json()["provider_urls"]["twilio_messages_url"].endswith("/messages/")


def test_an_inbox_kind_cannot_change(client_for: Any, supervisor: Any, inbox: Any) -> None:
    response = client_for(supervisor).patch(f"/api/v1/inboxes/{inbox.pk}/", {"kind": "sms"}, format="json")
    assert response.status_code == 400
    assert Inbox.objects.get(pk=inbox.pk).kind == "webchat"


# --- Teams, tags, SLA policies, routing rules, knowledge ---------------------------------------


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/v1/teams/", {"name": "Sales"}),
        ("/api/v1/tags/", {"name": "vip"}),
        ("/api/v1/sla-policies/", {"name": "Gold", "first_response_minutes": 30}),
        (
            "/api/v1/routing-rules/",
            {
                "name": "SMS first",
                "conditions": [{"field": "channel", "operator": "is", "value": "sms"}],
                "actions": {"priority": "high"},
            },
        ),
        ("/api/v1/knowledge-articles/", {"title": "Refunds", "body": "Within 30 days."}),
        ("/api/v1/canned-responses/", {"shortcut": "hi", "title": "Hello", "body": "Hi {{customer_name}}"}),
    ],
)
def test_config_is_read_by_agents_and_written_by_supervisors(
    api: Any, client_for: Any, supervisor: Any, path: str, payload: dict[str, Any]
) -> None:
    assert api.get(path).status_code == 200
    assert api.post(path, payload, format="json").status_code == 403
    response = client_for(supervisor).post(path, payload, format="json")
    assert response.status_code == 201, response.json()
    assert api.get(f"{path}{response.json()['id']}/").status_code == 200


def test_outsider_cannot_write_config(client_for: Any, outsider: Any) -> None:
    assert client_for(outsider).post("/api/v1/teams/", {"name": "Sneaky"}, format="json").status_code == 403
    assert not Team.objects.filter(name="Sneaky").exists()


def test_routing_rule_is_validated_by_its_model(client_for: Any, supervisor: Any) -> None:
    response = client_for(supervisor).post(
        "/api/v1/routing-rules/",
        {"name": "Bad", "conditions": [{"field": "colour", "operator": "is", "value": "red"}], "actions": {}},
        format="json",
    )
    assert response.status_code == 400
    assert "conditions" in error_of(response)["fields"]


def test_sla_policy_needs_a_target(client_for: Any, supervisor: Any) -> None:
    response = client_for(supervisor).post("/api/v1/sla-policies/", {"name": "Empty"}, format="json")
    assert response.status_code == 400
    assert "at least one target" in error_of(response)["message"]


def test_knowledge_and_rules_of_other_inboxes_are_hidden(client_for: Any, outsider: Any, inbox: Any) -> None:
    article = f.KnowledgeArticleFactory(inbox=inbox)
    rule = f.RoutingRuleFactory(inbox=inbox)
    api = client_for(outsider)
    assert api.get(f"/api/v1/knowledge-articles/{article.pk}/").status_code == 404
    assert api.get(f"/api/v1/routing-rules/{rule.pk}/").status_code == 404


# --- Canned responses ---------------------------------------------------------------------------


def test_canned_response_rendered_for_a_conversation(api: Any, conversation: Any, settings: Any) -> None:
    settings.COMPANY_NAME = "Acme"
    canned = f.CannedResponseFactory(body="Hi {{customer_name}}, {{ agent_name }} from {{company_name}} on {{date}}")
    body = api.get(f"/api/v1/canned-responses/{canned.pk}/render/", {"conversation": conversation.pk}).json()
    assert body["body"].startswith("Hi Carol Customer, Alice Agent from Acme on 20")


def test_canned_response_for_an_invisible_conversation_is_404(
    client_for: Any, outsider: Any, conversation: Any
) -> None:
    canned = f.CannedResponseFactory()
    api = client_for(outsider)
    assert (
        api.get(f"/api/v1/canned-responses/{canned.pk}/render/", {"conversation": conversation.pk}).status_code == 404
    )
    assert api.get(f"/api/v1/canned-responses/{canned.pk}/render/").status_code == 400


def test_team_canned_responses_are_for_the_team(api: Any, client_for: Any, outsider: Any, team: Any) -> None:
    canned = f.CannedResponseFactory(team=team)
    assert api.get(f"/api/v1/canned-responses/{canned.pk}/").status_code == 200
    assert client_for(outsider).get(f"/api/v1/canned-responses/{canned.pk}/").status_code == 404


# --- Agents ---------------------------------------------------------------------------------------


def test_an_agent_sets_her_own_availability(api: Any, agent: Any, inbox: Any, live_events: Any, committed: Any) -> None:
    with committed():
        response = api.patch(f"/api/v1/agents/{agent.pk}/", {"availability": "busy"}, format="json")
    assert response.status_code == 200 and response.json()["availability"] == "busy"
    assert live_events.of_type("presence")[0]["availability"] == "busy"


def test_an_agent_cannot_set_a_teammates_availability_or_her_capacity(
    api: Any, agent: Any, teammate: Any, inbox: Any
) -> None:
    response = api.patch(f"/api/v1/agents/{teammate.pk}/", {"availability": "offline"}, format="json")
    assert response.status_code == 403
    response = api.patch(f"/api/v1/agents/{agent.pk}/", {"capacity": 100}, format="json")
    assert response.status_code == 403
    agent.agent_profile.refresh_from_db()
    assert agent.agent_profile.capacity == 5


def test_supervisor_changes_anyone(client_for: Any, supervisor: Any, agent: Any, team: Any) -> None:
    response = client_for(supervisor).patch(
        f"/api/v1/agents/{agent.pk}/", {"availability": "offline", "capacity": 9, "skills": ["billing"]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["capacity"] == 9 and response.json()["availability"] == "offline"


def test_outsider_does_not_see_agents_of_other_inboxes(client_for: Any, outsider: Any, agent: Any, inbox: Any) -> None:
    api = client_for(outsider)
    assert [a["id"] for a in api.get("/api/v1/agents/").json()["results"]] == [outsider.pk]
    assert api.patch(f"/api/v1/agents/{agent.pk}/", {"availability": "offline"}, format="json").status_code == 404


# --- Notifications --------------------------------------------------------------------------------


def test_notifications_are_personal_and_can_be_marked_read(
    api: Any, agent: Any, client_for: Any, outsider: Any
) -> None:
    mine = f.NotificationFactory(recipient=agent)
    f.NotificationFactory(recipient=agent)
    theirs = f.NotificationFactory(recipient=outsider)
    assert len(api.get("/api/v1/notifications/").json()["results"]) == 2
    assert api.post(f"/api/v1/notifications/{theirs.pk}/read/").status_code == 404
    assert api.post(f"/api/v1/notifications/{mine.pk}/read/").json()["read_at"] is not None
    assert len(api.get("/api/v1/notifications/", {"unread": "true"}).json()["results"]) == 1
    assert api.post("/api/v1/notifications/read-all/").json() == {"marked_read": 1}
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_deleting_an_inbox_that_has_conversations_is_a_409(client_for: Any, supervisor: Any, conversation: Any) -> None:
    response = client_for(supervisor).delete(f"/api/v1/inboxes/{conversation.inbox_id}/")
    assert response.status_code == 409
    assert "conversations" in error_of(response)["message"]
    assert Inbox.objects.filter(pk=conversation.inbox_id).exists()
