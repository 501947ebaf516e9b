"""HTTP through the project's ASGI application: the middleware and the view in one thread hop."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref import sync as asgiref_sync
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.contrib.sessions.backends.db import SessionStore
from django.core.handlers.asgi import ASGIHandler

from conversations.models import Conversation
from inbox_project.asgi import application, django_asgi_app
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def _request(method: str, path: str, headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b"") -> Any:
    async def go() -> Any:
        communicator = HttpCommunicator(
            application, method, path, body=body, headers=[(b"host", b"testserver"), *(headers or [])]
        )
        return await communicator.get_response(timeout=10)

    return async_to_sync(go)()


def _count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ``sync_to_async`` made from now on (Django's middleware adapters included), by what it wraps."""
    made: list[str] = []
    original = asgiref_sync.SyncToAsync.__init__

    def counting(self: Any, func: Any, *args: Any, **kwargs: Any) -> None:
        made.append(getattr(func, "__qualname__", repr(func)))
        original(self, func, *args, **kwargs)

    monkeypatch.setattr(asgiref_sync.SyncToAsync, "__init__", counting)
    return made


def test_the_middleware_chain_is_built_synchronous() -> None:
    assert not asyncio.iscoroutinefunction(django_asgi_app._middleware_chain)


def test_a_request_runs_its_middleware_and_view_in_one_hop(monkeypatch: pytest.MonkeyPatch) -> None:
    _request("GET", "/healthz/")  # warm: the first request of a process sets things up
    made = _count_hops(monkeypatch)
    response = _request("GET", "/healthz/")
    assert response["status"] == 200
    assert json.loads(response["body"])["status"] == "ok"
    headers = {name.lower(): value for name, value in response["headers"]}
    # The middleware ran, the first and the last of the chain.
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"x-frame-options"] == b"DENY"
    # One hop into the synchronous world for the whole request (the chain), plus the ones Django's
    # ASGI handler makes around it (the request signals, closing the response): Django's own
    # handler made one per middleware hook, about twenty here.
    assert made.count("BaseHandler.get_response") == 1
    assert len(made) <= 4, made


def test_an_agent_session_and_csrf_work_through_asgi(agent: Any, inbox: Any) -> None:
    conversation = f.ConversationFactory(inbox=inbox)
    session = SessionStore()
    session["_auth_user_id"] = str(agent.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = agent.get_session_auth_hash()
    session.create()
    cookie = [(b"cookie", f"sessionid={session.session_key}".encode())]
    seen = _request("GET", f"/api/v1/conversations/{conversation.pk}/", headers=cookie)
    assert seen["status"] == 200, seen["body"][:300]
    assert json.loads(seen["body"])["id"] == conversation.pk
    # A state change with the session but no CSRF token is refused by the middleware, not a 500.
    refused = _request(
        "POST",
        f"/api/v1/conversations/{conversation.pk}/messages/",
        headers=[*cookie, (b"content-type", b"application/json")],
        body=b'{"body": "hi", "private": true}',
    )
    assert refused["status"] == 403
    assert Conversation.objects.get(pk=conversation.pk).messages.count() == conversation.messages.count()


def test_the_handler_is_still_djangos_asgi_handler() -> None:
    assert isinstance(django_asgi_app, ASGIHandler)
