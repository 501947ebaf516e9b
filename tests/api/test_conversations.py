from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from conversations import services
from conversations.models import ConversationEvent, Handler, Priority, Status
from tests import factories as f
from tests.api.conftest import error_of

URL = "/api/v1/conversations/"


def detail(conversation: Any) -> str:
    return f"{URL}{conversation.pk}/"


# --- Visibility -------------------------------------------------------------------------------


def test_agent_lists_conversations_of_her_inboxes(api: Any, conversation: Any) -> None:
    response = api.get(URL)
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == conversation.pk
    assert row["contact"] == {"id": conversation.contact_id, "name": "Carol Customer"}
    assert row["channel"] == "webchat"
    assert row["priority"] == "normal"
    assert row["unread"] is True


def test_outsider_lists_nothing_and_gets_404_for_the_conversation(
    client_for: Any, outsider: Any, conversation: Any
) -> None:
    api = client_for(outsider)
    assert api.get(URL).json()["results"] == []
    response = api.get(detail(conversation))
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_outsider_cannot_act_on_the_conversation(client_for: Any, outsider: Any, conversation: Any) -> None:
    api = client_for(outsider)
    for path, body in [
        ("assign", {"assignee_id": outsider.pk}),
        ("status", {"status": "resolved"}),
        ("priority", {"priority": "urgent", "reason": "x"}),
        ("tags", {"add": ["x"]}),
        ("take-over", {}),
        ("snooze", {"until": (timezone.now() + timedelta(hours=1)).isoformat()}),
        ("read", {}),
    ]:
        assert api.post(f"{detail(conversation)}{path}/", body, format="json").status_code == 404, path
    conversation.refresh_from_db()
    assert conversation.status == Status.ACTIVE and conversation.assignee_id is None


def test_supervisor_sees_every_conversation(client_for: Any, supervisor: Any, conversation: Any) -> None:
    assert [r["id"] for r in client_for(supervisor).get(URL).json()["results"]] == [conversation.pk]


def test_unauthenticated_request_is_401_with_the_error_shape(conversation: Any) -> None:
    from rest_framework.test import APIClient

    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert error_of(response)["code"] == "not_authenticated"


def test_detail_shows_summary_and_sla_fields(api: Any, conversation: Any) -> None:
    body = api.get(detail(conversation)).json()
    assert body["id"] == conversation.pk
    assert "summary" in body and "first_response_due_at" in body


def test_conversations_cannot_be_edited_or_moved_directly(api: Any, conversation: Any, outsider: Any) -> None:
    other_inbox = outsider.inboxes.get()
    response = api.patch(detail(conversation), {"inbox": other_inbox.pk, "contact": 999}, format="json")
    assert response.status_code == 405
    # Extra fields on an action are ignored: only the action's own fields are read.
    api.post(f"{detail(conversation)}status/", {"status": "pending", "inbox": other_inbox.pk}, format="json")
    conversation.refresh_from_db()
    assert conversation.inbox_id != other_inbox.pk and conversation.status == Status.PENDING


# --- Actions ------------------------------------------------------------------------------------


def test_assign_goes_through_the_service_and_records_an_event(api: Any, conversation: Any, teammate: Any) -> None:
    response = api.post(f"{detail(conversation)}assign/", {"assignee_id": teammate.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["assignee"]["id"] == teammate.pk
    assert ConversationEvent.objects.filter(conversation=conversation, kind="assigned").exists()


def test_assigning_a_non_member_is_a_400_with_the_services_message(api: Any, conversation: Any, outsider: Any) -> None:
    response = api.post(f"{detail(conversation)}assign/", {"assignee_id": outsider.pk}, format="json")
    assert response.status_code == 400
    assert "is not a member of the inbox" in error_of(response)["message"]


def test_assigning_an_unknown_agent_is_a_400(api: Any, conversation: Any) -> None:
    response = api.post(f"{detail(conversation)}assign/", {"assignee_id": 987654}, format="json")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"assignee_id": ["No active agent has the id 987654."]}


def test_unassign_with_null(api: Any, conversation: Any, agent: Any) -> None:
    services.conversation_assign(conversation=conversation, assignee=agent, actor=agent)
    response = api.post(f"{detail(conversation)}assign/", {"assignee_id": None}, format="json")
    assert response.json()["assignee"] is None


def test_status_change(api: Any, conversation: Any) -> None:
    response = api.post(f"{detail(conversation)}status/", {"status": "resolved"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "resolved"


def test_unknown_status_is_a_400_naming_the_field(api: Any, conversation: Any) -> None:
    response = api.post(f"{detail(conversation)}status/", {"status": "closed"}, format="json")
    assert response.status_code == 400
    assert "status" in error_of(response)["fields"]


def test_priority_override_needs_a_reason(api: Any, conversation: Any) -> None:
    response = api.post(f"{detail(conversation)}priority/", {"priority": "urgent"}, format="json")
    assert response.status_code == 400
    assert "reason" in error_of(response)["fields"]
    response = api.post(f"{detail(conversation)}priority/", {"priority": "urgent", "reason": "VIP"}, format="json")
    assert response.status_code == 200 and response.json()["priority"] == "urgent"
    event = ConversationEvent.objects.get(conversation=conversation, kind="priority")
    assert event.data["reason"] == "VIP"


def test_blank_reason_is_refused_by_the_service(api: Any, conversation: Any) -> None:
    response = api.post(f"{detail(conversation)}priority/", {"priority": "high", "reason": "   "}, format="json")
    assert response.status_code == 400


def test_tags_add_and_remove(api: Any, conversation: Any) -> None:
    response = api.post(f"{detail(conversation)}tags/", {"add": ["Billing", "refund"]}, format="json")
    assert response.json()["tags"] == ["billing", "refund"]
    response = api.post(f"{detail(conversation)}tags/", {"remove": ["refund"]}, format="json")
    assert response.json()["tags"] == ["billing"]


def test_bad_tag_name_is_a_400(api: Any, conversation: Any) -> None:
    response = api.post(f"{detail(conversation)}tags/", {"add": ["<script>"]}, format="json")
    assert response.status_code == 400


def test_take_over_from_the_assistant(api: Any, conversation: Any, agent: Any) -> None:
    conversation.handler = Handler.BOT
    conversation.save()
    response = api.post(f"{detail(conversation)}take-over/")
    assert response.status_code == 200
    assert response.json()["handler"] == "human" and response.json()["assignee"]["id"] == agent.pk


def test_transfer_to_a_team(api: Any, conversation: Any) -> None:
    billing = f.TeamFactory(name="Billing")
    response = api.post(
        f"{detail(conversation)}transfer/", {"team_id": billing.pk, "note": "over to you"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["team"] == {"id": billing.pk, "name": "Billing"}


def test_transfer_to_an_unknown_team_is_a_400(api: Any, conversation: Any) -> None:
    response = api.post(f"{detail(conversation)}transfer/", {"team_id": 424242}, format="json")
    assert response.status_code == 400 and "team_id" in error_of(response)["fields"]


def test_snooze_into_the_past_is_refused(api: Any, conversation: Any) -> None:
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    response = api.post(f"{detail(conversation)}snooze/", {"until": past}, format="json")
    assert response.status_code == 400
    assert "future" in error_of(response)["message"]
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    response = api.post(f"{detail(conversation)}snooze/", {"until": future}, format="json")
    assert response.json()["status"] == "pending" and response.json()["snoozed_until"]


def test_reading_clears_the_unread_mark(api: Any, conversation: Any) -> None:
    assert api.get(detail(conversation)).json()["unread"] is True
    assert api.post(f"{detail(conversation)}read/").json()["unread"] is False


# --- Filters, sorting, paging ---------------------------------------------------------------------


@pytest.fixture
def several(inbox: Any, sms_inbox: Any, agent: Any) -> dict[str, Any]:
    now = timezone.now()
    billing = f.TagFactory(name="billing")
    a = f.ConversationFactory(inbox=inbox, status="active", priority=Priority.URGENT, last_message_at=now)
    b = f.ConversationFactory(
        inbox=sms_inbox, status="pending", assignee=agent, last_message_at=now - timedelta(hours=1)
    )
    c = f.ConversationFactory(inbox=inbox, status="resolved", handler="bot", last_message_at=now - timedelta(hours=2))
    c.tags.add(billing)
    return {"a": a, "b": b, "c": c}


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_filters(api: Any, several: dict[str, Any], agent: Any) -> None:
    a, b, c = several["a"], several["b"], several["c"]
    assert ids(api.get(URL, {"status": "active,pending"})) == [a.pk, b.pk]
    assert ids(api.get(URL, {"channel": "sms"})) == [b.pk]
    assert ids(api.get(URL, {"priority": "urgent"})) == [a.pk]
    assert ids(api.get(URL, {"assignee": "me"})) == [b.pk]
    assert ids(api.get(URL, {"assignee": str(agent.pk)})) == [b.pk]
    assert ids(api.get(URL, {"assignee": "none"})) == [a.pk, c.pk]
    assert ids(api.get(URL, {"handler": "bot"})) == [c.pk]
    assert ids(api.get(URL, {"tag": "billing"})) == [c.pk]
    assert ids(api.get(URL, {"inbox": b.inbox_id})) == [b.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "open"}, "status"),
        ({"assignee": "bob"}, "assignee"),
        ({"priority": "meh"}, "priority"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"sort": "random"}, "sort"),
        ({"q": "colour:red"}, "q"),
        ({"q": '"unterminated'}, "q"),
        ({"page_size": "1000"}, "page_size"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_list_parameters_are_a_400_naming_them(
    api: Any, conversation: Any, params: dict[str, str], field: str
) -> None:
    response = api.get(URL, params)
    assert response.status_code == 400
    assert field in error_of(response)["fields"]


def test_sorts(api: Any, several: dict[str, Any]) -> None:
    a, b, c = several["a"], several["b"], several["c"]
    assert ids(api.get(URL)) == [a.pk, b.pk, c.pk]
    assert ids(api.get(URL, {"sort": "oldest"})) == [c.pk, b.pk, a.pk]
    assert ids(api.get(URL, {"sort": "priority"}))[0] == a.pk
    assert ids(api.get(URL, {"sort": "channel"})) == [b.pk, a.pk, c.pk]  # sms before webchat
    assert ids(api.get(URL, {"sort": "assignment"})) == [a.pk, c.pk, b.pk]  # unassigned first


def test_updated_since_lets_a_reconnecting_client_catch_up(api: Any, several: dict[str, Any], agent: Any) -> None:
    mark = timezone.now()
    services.conversation_set_status(conversation=several["c"], status="active", actor=agent)
    assert ids(api.get(URL, {"updated_since": mark.isoformat()})) == [several["c"].pk]


def test_created_range(api: Any, inbox: Any) -> None:
    old = f.ConversationFactory(inbox=inbox, created_at=timezone.now() - timedelta(days=10))
    new = f.ConversationFactory(inbox=inbox)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(api.get(URL, {"created_after": since})) == [new.pk]
    assert ids(api.get(URL, {"created_before": since})) == [old.pk]


def test_cursor_pages_are_stable_with_ties_and_new_arrivals(api: Any, inbox: Any) -> None:
    same_time = timezone.now() - timedelta(hours=1)
    rows = [f.ConversationFactory(inbox=inbox, last_message_at=same_time) for _ in range(7)]
    expected = sorted((r.pk for r in rows), reverse=True)
    first = api.get(URL, {"page_size": 3}).json()
    seen = [row["id"] for row in first["results"]]
    # New conversations arrive between pages: they are above the cursor and do not shift it.
    for _ in range(2):
        f.ConversationFactory(inbox=inbox)
    url = first["next"]
    while url:
        page = api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == expected


def test_previous_link_returns_the_page_before(api: Any, inbox: Any) -> None:
    for _ in range(5):
        f.ConversationFactory(inbox=inbox)
    first = api.get(URL, {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    back = api.get(second["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]


def test_a_cursor_from_another_sort_is_refused(api: Any, inbox: Any) -> None:
    for _ in range(3):
        f.ConversationFactory(inbox=inbox)
    cursor = api.get(URL, {"page_size": 1}).json()["next"].split("cursor=")[1].split("&")[0]
    response = api.get(URL, {"page_size": 1, "sort": "oldest", "cursor": cursor})
    assert response.status_code == 400
    assert "another sort" in error_of(response)["message"]


# --- Search -------------------------------------------------------------------------------------


@pytest.fixture
def searchable(inbox: Any, sms_inbox: Any, teammate: Any) -> dict[str, Any]:
    ana = f.ContactFactory(name="Ana Lima")
    f.ChannelIdentityFactory(contact=ana, kind="phone", value="+14155550100")
    f.ChannelIdentityFactory(contact=ana, kind="email", value="ana@example.com")
    ben = f.ContactFactory(name="Ben Ortiz")
    one = f.ConversationFactory(inbox=sms_inbox, contact=ana, assignee=teammate)
    two = f.ConversationFactory(inbox=inbox, contact=ben)
    f.MessageFactory(conversation=two, body="I need a refund request for my order")
    f.MessageFactory(conversation=one, body="Where is my parcel?")
    return {"one": one, "two": two}


def _search_cases(s: dict[str, Any], teammate: Any) -> list[tuple[str, list[int]]]:
    one, two = s["one"].pk, s["two"].pk
    return [
        ("ana", [one]),
        ("Lima", [one]),
        ("parcel", [one]),
        ('"refund request"', [two]),
        ('"request refund"', []),
        ("refund ben", [two]),
        ('phone:"+1 415 555 0100"', [one]),
        ("phone:+14155550100", [one]),
        ("email:ANA@example.com", [one]),
        ("+14155550100", [one]),
        ("ana@example.com", [one]),
        (f"id:{two}", [two]),
        ("assigned:bob", [one]),
        (f"assigned:{teammate.email}", [one]),
        ("assigned:none", [two]),
        ("channel:sms parcel", [one]),
        ("channel:webchat parcel", []),
        ("status:active", [two, one]),
        ("team:Support", []),
    ]


def test_search_syntax_on_the_fallback_backend(
    api: Any, searchable: dict[str, Any], teammate: Any, settings: Any
) -> None:
    settings.IS_POSTGRES = False  # the icontains fallback (SQLite) runs anywhere
    for q, expected in _search_cases(searchable, teammate):
        got = ids(api.get(URL, {"q": q}))
        assert sorted(got) == sorted(expected), q
    # A bare number finds the conversation with that id (and anything else containing it, e.g. a phone number).
    assert searchable["two"].pk in ids(api.get(URL, {"q": str(searchable["two"].pk)}))


@pytest.mark.postgres
def test_search_syntax_with_postgres_full_text_search(api: Any, searchable: dict[str, Any], teammate: Any) -> None:
    for q, expected in _search_cases(searchable, teammate):
        got = ids(api.get(URL, {"q": q}))
        assert sorted(got) == sorted(expected), q


@pytest.mark.postgres
def test_search_documents_follow_every_write(api: Any, searchable: dict[str, Any]) -> None:
    """The triggers keep the tsvectors current: renamed contacts, new identities, edited messages."""
    contact = searchable["two"].contact
    contact.name = "Benedikt Zed"
    contact.save()
    assert ids(api.get(URL, {"q": "benedikt"})) == [searchable["two"].pk]
    f.ChannelIdentityFactory(contact=contact, kind="email", value="zed@example.org")
    assert ids(api.get(URL, {"q": "zed@example.org"})) == [searchable["two"].pk]
    searchable["one"].messages.update(body="lost umbrella")
    assert ids(api.get(URL, {"q": "umbrella"})) == [searchable["one"].pk]
    assert ids(api.get(URL, {"q": "parcel"})) == []


def test_search_is_within_what_the_user_may_see(client_for: Any, outsider: Any, searchable: dict[str, Any]) -> None:
    assert ids(client_for(outsider).get(URL, {"q": "ana"})) == []


# --- Counts ---------------------------------------------------------------------------------------


def test_counts_in_one_query(
    api: Any, several: dict[str, Any], agent: Any, team: Any, django_assert_num_queries: Any
) -> None:
    several["a"].team = team
    several["a"].save()
    services.conversation_set_status(conversation=several["c"], status="active", actor=agent)
    services.conversation_set_status(conversation=several["c"], status="resolved", actor=agent)
    api.get(f"{URL}counts/")  # the token's last_used_at is written on first use
    with django_assert_num_queries(2):  # the token lookup, then the counts
        body = api.get(f"{URL}counts/").json()
    assert body["all"] == {"active": 1, "pending": 1, "resolved_today": 1}
    assert body["mine"] == {"needs_my_attention": 0, "waiting_for_customer": 0, "ready_to_close": 1}
    assert body["team"] == {"unassigned": 1, "in_progress": 0, "needs_review": 1}
    assert body["by_channel"]["sms"] == 1 and body["by_channel"]["webchat"] == 1
    assert body["bot_handled"] == 0


def test_outsider_counts_nothing(client_for: Any, outsider: Any, several: dict[str, Any]) -> None:
    body = client_for(outsider).get(f"{URL}counts/").json()
    assert body["all"] == {"active": 0, "pending": 0, "resolved_today": 0}


# --- Query counts ---------------------------------------------------------------------------------


def _many(inbox: Any, agent: Any, n: int) -> None:
    tag = f.TagFactory(name="vip")
    for _ in range(n):
        conversation = f.ConversationFactory(inbox=inbox, assignee=agent, team=inbox.default_team)
        conversation.tags.add(tag)
        f.ConversationReadFactory(conversation=conversation, user=agent)


@pytest.mark.parametrize("size", [10, 100])
def test_list_query_count_is_constant(
    api: Any, inbox: Any, agent: Any, size: int, django_assert_num_queries: Any
) -> None:
    _many(inbox, agent, size)
    api.get(URL)  # the token's last_used_at is written once
    # token, conversations (with contacts), their tags, inboxes, teams, assignees, their profiles
    with django_assert_num_queries(7):
        response = api.get(URL, {"page_size": size, "q": "status:active"})
    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", [10, 100])
def test_detail_query_count_is_constant(
    api: Any, inbox: Any, agent: Any, size: int, django_assert_num_queries: Any
) -> None:
    _many(inbox, agent, size)
    conversation = inbox.conversations.first()
    api.get(URL)
    with django_assert_num_queries(7):
        assert api.get(detail(conversation)).status_code == 200
