"""API test helpers: a client per user, authenticated the way integrators are (a token)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from core.models import ApiToken


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()  # login-failure counters must not leak between tests


@pytest.fixture
def client_for(db: Any) -> Callable[[Any], APIClient]:
    def make(user: Any) -> APIClient:
        _token, key = ApiToken.issue(user=user, name="tests")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def api(client_for: Callable[[Any], APIClient], agent: Any) -> APIClient:
    return client_for(agent)


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return body["error"]
