from __future__ import annotations

from typing import Any

import pytest

from conversations.models import Contact
from tests import factories as f
from tests.api.conftest import error_of

URL = "/api/v1/contacts/"


@pytest.fixture
def carol(conversation: Any) -> Any:
    f.ChannelIdentityFactory(contact=conversation.contact, kind="email", value="carol@example.com")
    return conversation.contact


def test_contact_with_identities_and_history(api: Any, carol: Any, conversation: Any, sms_inbox: Any) -> None:
    second = f.ConversationFactory(inbox=sms_inbox, contact=carol)
    body = api.get(f"{URL}{carol.pk}/").json()
    assert body["name"] == "Carol Customer"
    assert [i["value"] for i in body["identities"]] == ["carol@example.com"]
    assert body["conversation_count"] == 2
    assert {c["id"] for c in body["conversations"]} == {conversation.pk, second.pk}
    assert {c["channel"] for c in body["conversations"]} == {"webchat", "sms"}


def test_history_shows_only_conversations_the_agent_may_see(api: Any, carol: Any, outsider: Any) -> None:
    hidden = f.ConversationFactory(inbox=outsider.inboxes.get(), contact=carol)
    body = api.get(f"{URL}{carol.pk}/").json()
    assert hidden.pk not in [c["id"] for c in body["conversations"]]
    assert body["conversation_count"] == 1


def test_outsider_cannot_see_or_change_the_contact(client_for: Any, outsider: Any, carol: Any) -> None:
    api = client_for(outsider)
    assert api.get(URL).json()["results"] == []
    assert api.get(f"{URL}{carol.pk}/").status_code == 404
    assert api.patch(f"{URL}{carol.pk}/", {"name": "Hacked"}, format="json").status_code == 404
    assert (
        api.post(f"{URL}{carol.pk}/identities/", {"kind": "email", "value": "x@y.com"}, format="json").status_code
        == 404
    )
    carol.refresh_from_db()
    assert carol.name == "Carol Customer"


def test_list_and_search(api: Any, carol: Any) -> None:
    assert [c["id"] for c in api.get(URL, {"q": "carol@"}).json()["results"]] == [carol.pk]
    assert api.get(URL, {"q": "nobody"}).json()["results"] == []


def test_update_details_through_the_service(api: Any, carol: Any, live_events: Any, committed: Any) -> None:
    with committed():
        response = api.patch(f"{URL}{carol.pk}/", {"name": "Carol C.", "segment": "vip"}, format="json")
    assert response.status_code == 200
    assert response.json()["is_vip"] is True
    assert live_events.of_type("contact.updated")[0]["contact"] == {"id": carol.pk, "name": "Carol C."}


def test_read_only_fields_are_ignored(api: Any, carol: Any) -> None:
    api.patch(f"{URL}{carol.pk}/", {"id": 999, "created_at": "2000-01-01T00:00:00Z"}, format="json")
    assert Contact.objects.filter(pk=carol.pk).exists()


def test_custom_attributes_must_be_an_object(api: Any, carol: Any) -> None:
    response = api.patch(f"{URL}{carol.pk}/", {"custom_attributes": [1, 2]}, format="json")
    assert response.status_code == 400


def test_add_identity_and_refuse_one_owned_by_someone_else(api: Any, carol: Any) -> None:
    response = api.post(f"{URL}{carol.pk}/identities/", {"kind": "phone", "value": "+1 415 555 0199"}, format="json")
    assert response.status_code == 201 and response.json()["value"] == "+14155550199"
    other = f.ContactFactory()
    f.ChannelIdentityFactory(contact=other, kind="email", value="taken@example.com")
    response = api.post(f"{URL}{carol.pk}/identities/", {"kind": "email", "value": "taken@example.com"}, format="json")
    assert response.status_code == 400
    assert "merge" in error_of(response)["message"]


def test_merge_contacts(api: Any, carol: Any, inbox: Any) -> None:
    dup = f.ContactFactory(name="C. Customer")
    moved = f.ConversationFactory(inbox=inbox, contact=dup)
    response = api.post(f"{URL}{carol.pk}/merge/", {"source_id": dup.pk}, format="json")
    assert response.status_code == 200
    moved.refresh_from_db()
    assert moved.contact_id == carol.pk
    assert api.get(f"{URL}{dup.pk}/").status_code == 404  # merged away


def test_merging_a_contact_the_agent_cannot_see_is_refused_as_not_found(api: Any, carol: Any, outsider: Any) -> None:
    theirs = f.ConversationFactory(inbox=outsider.inboxes.get()).contact
    response = api.post(f"{URL}{carol.pk}/merge/", {"source_id": theirs.pk}, format="json")
    assert response.status_code == 400
    assert "not found" in error_of(response)["message"]
    theirs.refresh_from_db()
    assert theirs.merged_into_id is None


def test_merging_into_itself_is_a_400(api: Any, carol: Any) -> None:
    response = api.post(f"{URL}{carol.pk}/merge/", {"source_id": carol.pk}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize("size", [10, 50])
def test_contact_list_query_count_is_constant(api: Any, inbox: Any, size: int, django_assert_num_queries: Any) -> None:
    for _ in range(size):
        f.ChannelIdentityFactory(contact=f.ConversationFactory(inbox=inbox).contact)
    api.get(URL)
    with django_assert_num_queries(3):  # token, contacts (with counts), identities
        assert len(api.get(URL, {"page_size": size}).json()["results"]) == size
