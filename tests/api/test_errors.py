from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import error_of


def test_malformed_json_is_a_400_that_says_so(api: Any, conversation: Any) -> None:
    response = api.post(
        f"/api/v1/conversations/{conversation.pk}/status/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "malformed_request" and "JSON" in error["message"]


def test_wrong_types_name_the_field(api: Any, conversation: Any) -> None:
    response = api.post(f"/api/v1/conversations/{conversation.pk}/assign/", {"assignee_id": "bob"}, format="json")
    assert response.status_code == 400
    assert error_of(response)["fields"] == {"assignee_id": ["A valid integer is required."]}


def test_a_json_list_instead_of_an_object(api: Any, conversation: Any) -> None:
    response = api.post(f"/api/v1/conversations/{conversation.pk}/tags/", [1, 2], format="json")
    assert response.status_code == 400


def test_unknown_ids_are_404_in_the_error_shape(api: Any) -> None:
    for path in ["/api/v1/conversations/999999/", "/api/v1/contacts/abc/", "/api/v1/inboxes/0/"]:
        response = api.get(path)
        assert response.status_code == 404, path
        assert error_of(response) == {"code": "not_found", "message": "Not found."}


def test_wrong_method_is_a_405_in_the_error_shape(api: Any) -> None:
    response = api.delete("/api/v1/conversations/")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_unsupported_content_type_is_a_415(api: Any, conversation: Any) -> None:
    response = api.post(
        f"/api/v1/conversations/{conversation.pk}/status/", data="status=resolved", content_type="text/plain"
    )
    assert response.status_code == 415


def test_unknown_api_path_is_a_json_404(api: Any) -> None:
    for path in ["/api/v1/nope/", "/api/v1/conversations/1/nothing/here/"]:
        response = api.get(path)
        assert response.status_code == 404
        assert "There is no API endpoint" in error_of(response)["message"]


def test_post_to_an_unknown_path_is_a_json_404_not_a_csrf_page(api: Any) -> None:
    response = api.post("/api/v1/conversations/1.5/assign/", {"assignee_id": 1}, format="json")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["priority=%25%C3%B2", "status=50%25", "q=status:%25x"])
def test_a_filter_value_with_a_percent_sign_is_a_400_not_a_500(supervisor, query):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(supervisor)
    response = client.get(f"/api/v1/conversations/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["message"]
