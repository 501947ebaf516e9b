from __future__ import annotations

from typing import Any

from conversations.models import Conversation, ConversationEvent, Priority
from tests import factories as f

URL = "/api/v1/conversations/bulk/"


def test_bulk_status_on_ids_reports_changed_unchanged_and_refused(api: Any, inbox: Any, outsider: Any) -> None:
    a = f.ConversationFactory(inbox=inbox, status="active")
    b = f.ConversationFactory(inbox=inbox, status="resolved")
    hidden = f.ConversationFactory(inbox=outsider.inboxes.get())
    response = api.post(URL, {"action": "status", "status": "resolved", "ids": [a.pk, b.pk, hidden.pk]}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["changed"] == [a.pk] and body["unchanged"] == [b.pk]
    assert body["refused"] == [
        {"id": hidden.pk, "code": "not_found", "message": f"Conversation {hidden.pk} not found."}
    ]
    hidden.refresh_from_db()
    assert hidden.status == "active"
    # Each change went through the service: it left its audit row.
    assert ConversationEvent.objects.filter(conversation_id=a.pk, kind="status").count() == 1


def test_bulk_on_everything_a_filter_matches(api: Any, inbox: Any, sms_inbox: Any) -> None:
    sms = [f.ConversationFactory(inbox=sms_inbox) for _ in range(3)]
    chat = f.ConversationFactory(inbox=inbox)
    response = api.post(
        URL, {"action": "priority", "priority": "high", "reason": "outage", "filter": {"channel": "sms"}}, format="json"
    )
    assert sorted(response.json()["changed"]) == sorted(c.pk for c in sms)
    chat.refresh_from_db()
    assert chat.priority == Priority.NORMAL


def test_bulk_filter_uses_the_search_syntax(api: Any, inbox: Any) -> None:
    target = f.ConversationFactory(inbox=inbox)
    f.ConversationFactory(inbox=inbox)
    response = api.post(URL, {"action": "tags", "add": ["batch"], "filter": {"q": f"id:{target.pk}"}}, format="json")
    assert response.json()["changed"] == [target.pk]


def test_bulk_bad_filter_is_a_400(api: Any, inbox: Any) -> None:
    response = api.post(URL, {"action": "archive", "filter": {"q": "colour:red"}}, format="json")
    assert response.status_code == 400


def test_bulk_assign_refuses_per_item_with_the_services_message(
    api: Any, inbox: Any, client_for: Any, supervisor: Any, teammate: Any
) -> None:
    mine = f.ConversationFactory(inbox=inbox)
    other = f.InboxFactory(name="Elsewhere")
    elsewhere = f.ConversationFactory(inbox=other)
    response = client_for(supervisor).post(
        URL, {"action": "assign", "assignee_id": teammate.pk, "ids": [mine.pk, elsewhere.pk]}, format="json"
    )
    body = response.json()
    assert body["changed"] == [mine.pk]
    assert body["refused"][0]["id"] == elsewhere.pk and "not a member" in body["refused"][0]["message"]


def test_bulk_archive(api: Any, conversation: Any) -> None:
    api.post(URL, {"action": "archive", "ids": [conversation.pk]}, format="json")
    conversation.refresh_from_db()
    assert conversation.status == "archived"


def test_only_supervisors_delete(api: Any, client_for: Any, supervisor: Any, conversation: Any) -> None:
    f.MessageFactory(conversation=conversation)
    refused = api.post(URL, {"action": "delete", "ids": [conversation.pk]}, format="json").json()
    assert refused["refused"][0]["message"] == "Only a supervisor may delete conversations."
    deleted = client_for(supervisor).post(URL, {"action": "delete", "ids": [conversation.pk]}, format="json").json()
    assert deleted["changed"] == [conversation.pk]
    assert not Conversation.objects.filter(pk=conversation.pk).exists()


def test_bulk_needs_ids_or_filter_and_the_actions_fields(api: Any) -> None:
    assert api.post(URL, {"action": "archive"}, format="json").status_code == 400
    assert api.post(URL, {"action": "status", "ids": [1]}, format="json").status_code == 400
    assert api.post(URL, {"action": "explode", "ids": [1]}, format="json").status_code == 400


def test_outsider_bulk_touches_nothing(client_for: Any, outsider: Any, conversation: Any) -> None:
    body = client_for(outsider).post(URL, {"action": "archive", "ids": [conversation.pk]}, format="json").json()
    assert body["changed"] == [] and body["refused"][0]["code"] == "not_found"
    conversation.refresh_from_db()
    assert conversation.status == "active"
