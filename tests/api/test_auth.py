from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.core import signing
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import ApiToken
from tests.api.conftest import error_of

TOKEN_URL = "/api/v1/auth/token/"
PASSWORD = "pw-correct-horse-42"


def login(client: APIClient, username: str, password: str, addr: str = "10.0.0.1", **extra: Any) -> Any:
    return client.post(
        TOKEN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=addr, **extra
    )


def test_token_is_issued_once_and_stored_hashed(agent: Any, conversation: Any) -> None:
    response = login(APIClient(), "alice", PASSWORD)
    assert response.status_code == 201
    key = response.json()["key"]
    token = ApiToken.objects.get(pk=response.json()["id"])
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert token.expires_at is not None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/conversations/").status_code == 200


def test_wrong_password_is_a_400_without_saying_which_part_was_wrong(agent: Any) -> None:
    response = login(APIClient(), "alice", "nope")
    assert response.status_code == 400
    assert error_of(response)["message"] == "Wrong username or password."


def test_expired_and_revoked_tokens_are_refused(agent: Any) -> None:
    _expired, expired_key = ApiToken.issue(user=agent, expires_at=timezone.now() - timedelta(seconds=1))
    revoked, revoked_key = ApiToken.issue(user=agent)
    revoked.revoked_at = timezone.now()
    revoked.save()
    for key, message in [(expired_key, "expired"), (revoked_key, "revoked"), ("garbage", "Invalid")]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        response = client.get("/api/v1/conversations/")
        assert response.status_code == 401
        assert message in error_of(response)["message"]


def test_deactivated_users_token_is_refused(agent: Any) -> None:
    _token, key = ApiToken.issue(user=agent)
    agent.is_active = False
    agent.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/conversations/").status_code == 401


def test_delete_revokes_the_token_in_use(agent: Any) -> None:
    token, key = ApiToken.issue(user=agent)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.delete(TOKEN_URL).status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get("/api/v1/conversations/").status_code == 401


def test_tokens_endpoint_lists_and_revokes_only_own_tokens(client_for: Any, agent: Any, outsider: Any) -> None:
    theirs, _ = ApiToken.issue(user=outsider, name="theirs")
    api = client_for(agent)
    listed = api.get("/api/v1/auth/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["tests"]
    assert "key" not in listed[0] and "key_hash" not in listed[0]
    assert api.delete(f"/api/v1/auth/tokens/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_failed_logins_are_limited_per_username(agent: Any) -> None:
    client = APIClient()
    for i in range(5):
        assert login(client, "alice", "wrong", addr=f"10.0.1.{i}").status_code == 400
    response = login(client, "alice", PASSWORD, addr="10.0.2.1")  # even the right password, from anywhere
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert error_of(response)["code"] == "throttled"


def test_failed_logins_are_limited_per_address_ignoring_x_forwarded_for(agent: Any, teammate: Any) -> None:
    client = APIClient()
    for i in range(20):
        login(client, f"user{i}", "wrong", addr="10.9.9.9", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}")
    response = login(client, "bob", PASSWORD, addr="10.9.9.9", HTTP_X_FORWARDED_FOR="8.8.8.8")
    assert response.status_code == 429
    assert login(client, "bob", PASSWORD, addr="10.9.9.10").status_code == 201


def test_success_resets_the_username_counter(agent: Any) -> None:
    client = APIClient()
    for _ in range(4):
        login(client, "alice", "wrong")
    assert login(client, "alice", PASSWORD).status_code == 201
    for _ in range(4):
        login(client, "alice", "wrong")
    assert login(client, "alice", PASSWORD).status_code == 201


def test_session_auth_needs_csrf(agent: Any, conversation: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent)
    assert client.get("/api/v1/conversations/").status_code == 200
    response = client.post(f"/api/v1/conversations/{conversation.pk}/status/", {"status": "resolved"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in error_of(response)["message"]


def test_realtime_ticket_is_short_lived_and_signed(api: Any, agent: Any) -> None:
    response = api.post("/api/v1/realtime/ticket/")
    assert response.status_code == 201
    body = response.json()
    assert body["expires_in"] == 60
    assert signing.loads(body["ticket"], salt="realtime.ticket", max_age=60) == {"user_id": agent.pk}
    assert body["url"].endswith(f"/ws/agent/?ticket={body['ticket']}")


def test_realtime_ticket_needs_authentication(db: Any) -> None:
    assert APIClient().post("/api/v1/realtime/ticket/").status_code == 401
