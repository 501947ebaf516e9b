"""18. CSRF on every state-changing browser request; no GET changes state.

Every operation of the OpenAPI schema is tried: with a browser session but no CSRF token, each
POST/PUT/PATCH/DELETE is refused before it does anything; every GET, made by a supervisor with
real ids, leaves every table as it was. Webhook and widget endpoints are not browser-session
endpoints (they authenticate by signature or visitor token) and are not in the schema.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from rest_framework.test import APIClient

from conversations.models import Conversation
from tests import factories as f

pytestmark = pytest.mark.django_db

# Logging in with a password needs no session, so it has nothing to forge.
NO_SESSION = {("post", "/api/v1/auth/token/")}


def operations() -> list[tuple[str, str]]:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    return [
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


@pytest.fixture
def world(supervisor: Any, inbox: Any, conversation: Any) -> dict[str, int]:
    message = f.MessageFactory(conversation=conversation)
    identity = f.ChannelIdentityFactory(contact=conversation.contact)
    ids = {
        "conversation_pk": conversation.pk,
        "contact_pk": conversation.contact_id,
        "message": message.pk,
        "identity": identity.pk,
    }
    f.NotificationFactory(recipient=supervisor, conversation=conversation)
    f.CannedResponseFactory()
    f.TagFactory()
    return ids


def fill(path: str, value: Any) -> str:
    return re.sub(r"\{[^}]+\}", str(value), path)


def test_every_state_changing_api_request_needs_the_csrf_token_with_a_session(supervisor: Any, world: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(supervisor)
    checked = 0
    for method, path in operations():
        if method == "get" or (method, path) in NO_SESSION:
            continue
        response = getattr(client, method)(fill(path, world["conversation_pk"]), {}, content_type="application/json")
        assert response.status_code == 403, f"{method.upper()} {path}: {response.status_code}"
        assert "CSRF" in response.content.decode(), f"{method.upper()} {path}"
        checked += 1
    assert checked >= 30


def test_the_back_office_refuses_a_post_without_the_csrf_token(supervisor: Any, conversation: Any) -> None:
    supervisor.is_superuser = True
    supervisor.save()
    client = Client(enforce_csrf_checks=True)
    client.force_login(supervisor)
    response = client.post(
        "/admin/conversations/conversation/",
        {"action": "delete_selected", "_selected_action": [conversation.pk], "post": "yes"},
    )
    assert response.status_code == 403
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def fingerprint() -> dict[str, Any]:
    state: dict[str, Any] = {}
    for model in apps.get_models():
        if model._meta.app_label in {"sessions"}:
            continue
        state[model._meta.label] = model.objects.count()
    state["conversations"] = list(Conversation.objects.order_by("pk").values_list("pk", "updated_at", "status"))
    return state


def test_no_get_changes_anything(supervisor: Any, world: Any) -> None:
    client = Client()
    client.force_login(supervisor)
    before = fingerprint()
    for method, path in operations():
        if method != "get":
            continue
        response = client.get(fill(path, world["conversation_pk"]))
        assert response.status_code < 500, f"GET {path}: {response.status_code}"
    assert fingerprint() == before
