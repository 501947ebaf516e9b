"""The OpenAPI schema is valid, complete and true: a bounded schemathesis run finds no 5xx and no violation."""

from __future__ import annotations

import io
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.models import ApiToken
from tests import factories as f


def test_schema_validates_without_warnings(db: Any) -> None:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=io.StringIO())
    assert "/api/v1/conversations/{id}/assign/" in out.getvalue()


def test_schema_documents_every_resource_and_the_error_shape(db: Any) -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = set(schema["paths"])
    for path in [
        "/api/v1/conversations/",
        "/api/v1/conversations/{conversation_pk}/messages/",
        "/api/v1/conversations/bulk/",
        "/api/v1/conversations/counts/",
        "/api/v1/contacts/{id}/merge/",
        "/api/v1/inboxes/",
        "/api/v1/teams/",
        "/api/v1/agents/{id}/",
        "/api/v1/tags/",
        "/api/v1/canned-responses/{id}/render/",
        "/api/v1/sla-policies/",
        "/api/v1/routing-rules/",
        "/api/v1/knowledge-articles/",
        "/api/v1/notifications/{id}/read/",
        "/api/v1/auth/token/",
        "/api/v1/realtime/ticket/",
    ]:
        assert path in paths, path
    list_params = {p["name"] for p in schema["paths"]["/api/v1/conversations/"]["get"]["parameters"]}
    assert {"status", "assignee", "channel", "priority", "tag", "q", "sort", "cursor", "updated_since"} <= list_params
    assert "Error" in schema["components"]["schemas"]
    assert "400" in schema["paths"]["/api/v1/conversations/{id}/assign/"]["post"]["responses"]


def test_docs_load_with_no_internet(db: Any) -> None:
    html = APIClient().get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assert APIClient().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200


# --- schemathesis -------------------------------------------------------------------------------


@pytest.fixture
def world(db: Any, supervisor: Any, inbox: Any, conversation: Any, agent: Any) -> str:
    """Data for the generated requests to find, and a supervisor's key (so writes are exercised too)."""
    f.MessageFactory(conversation=conversation)
    f.ChannelIdentityFactory(contact=conversation.contact)
    f.NotificationFactory(recipient=supervisor)
    f.CannedResponseFactory()
    f.RoutingRuleFactory()
    f.KnowledgeArticleFactory()
    f.SLAPolicyFactory()
    _token, key = ApiToken.issue(user=supervisor, name="schemathesis")
    return key


@pytest.mark.slow
def test_api_conforms_to_its_schema(world: str) -> None:
    """Every operation, a few generated requests each (valid and invalid): no 5xx, only documented answers.

    Driven through schemathesis's Python API (its pytest plugin does not support pytest 9 yet).
    """
    # As Django's test client does: the test's transaction must survive each request's end.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        _conforms(world)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _conforms(world: str) -> None:
    schema: Any = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    # Revoking the key in use would turn the rest of the run into 401s.
    schema = schema.exclude(path_regex=r"^/api/v1/auth/token", method="DELETE")
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | operation.as_strategy(
            generation_mode=GenerationMode.NEGATIVE
        )

        @given(case=strategy)
        @settings(
            max_examples=10, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Token {world}"}, checks=checks)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert operations > 40
    assert not failures, "\n\n".join(failures)
