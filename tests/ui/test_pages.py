"""The inbox's pages: who gets in, what the page embeds, and the Content-Security-Policy."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_login_failures() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


PASSWORD = "pw-correct-horse-42"


def page_data(response: Any) -> dict[str, Any]:
    match = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    assert match, "the page embeds its data as JSON"
    return dict(json.loads(match.group(1)))


def test_inbox_sends_a_stranger_to_sign_in_and_back(client: Client, agent: Any, inbox: Any) -> None:
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/inbox/"

    signed_in = client.post("/login/?next=/inbox/", {"username": "alice", "password": PASSWORD, "next": "/inbox/"})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/inbox/"
    assert client.get("/inbox/").status_code == 200


def test_home_is_the_inbox_for_agents_and_sign_in_for_others(client: Client, agent: Any) -> None:
    assert client.get("/")["Location"] == "/login/"
    client.force_login(agent)
    assert client.get("/")["Location"] == "/inbox/"
    assert client.get("/admin/").status_code in (200, 302)  # the back office stays where it was


def test_wrong_password_is_refused_and_repeated_failures_are_throttled(client: Client, agent: Any) -> None:
    refused = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session
    for _ in range(30):
        client.post("/login/", {"username": "alice", "password": "wrong"})
    throttled = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert "Too many failed sign-ins" in throttled.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_out_is_a_post_and_ends_the_session(client: Client, agent: Any) -> None:
    client.force_login(agent)
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/inbox/").status_code == 302


def test_page_embeds_only_what_the_agent_may_see(client: Client, agent: Any, inbox: Any, outsider: Any) -> None:
    client.force_login(agent)
    data = page_data(client.get("/inbox/"))
    assert data["me"]["id"] == agent.pk and data["me"]["name"] == "Alice Agent"
    assert [i["name"] for i in data["inboxes"]] == ["Website chat"]
    assert outsider.pk not in [a["id"] for a in data["agents"]]
    assert data["max_attachment_bytes"] == 10 * 1024 * 1024


def test_embedded_data_cannot_break_out_of_its_script_tag(client: Client, agent: Any, inbox: Any) -> None:
    f.CannedResponseFactory(shortcut="evil", body="</script><script>alert(1)</script>")
    client.force_login(agent)
    html = client.get("/inbox/").content.decode()
    assert "</script><script>alert(1)" not in html
    assert page_data(client.get("/inbox/"))["canned_responses"][0]["body"] == "</script><script>alert(1)</script>"


def test_conversation_url_opens_the_page_on_that_conversation(client: Client, agent: Any, conversation: Any) -> None:
    client.force_login(agent)
    data = page_data(client.get(f"/inbox/c/{conversation.pk}/"))
    assert data["open_conversation_id"] == conversation.pk


def test_inbox_pages_forbid_inline_scripts(client: Client, agent: Any, inbox: Any) -> None:
    client.force_login(agent)
    for path in ("/inbox/", "/login/"):
        policy = client.get(path)["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'"
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    html = client.get("/inbox/").content.decode()
    # Every script is an external file or inert JSON data.
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'src="' in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"<[^>]+\son[a-z]+=", html), "no inline event handlers"


def test_admin_keeps_a_policy_that_still_allows_no_other_origin(client: Client, supervisor: Any) -> None:
    client.force_login(supervisor)
    policy = client.get("/admin/")["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy


def test_inbox_page_reads_in_a_constant_number_of_queries(client: Client, agent: Any, inbox: Any, team: Any) -> None:
    client.force_login(agent)
    client.get("/inbox/")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/inbox/").status_code == 200
        return len(queries)

    before = count()
    for n in range(5):
        f.InboxFactory(name=f"Inbox {n}", members=[agent, f.AgentFactory()])
        f.CannedResponseFactory()
        f.TagFactory()
        f.TeamFactory()
    assert count() == before


def test_supervisors_find_the_dashboard_from_the_inbox_and_agents_do_not(
    client: Client, agent: Any, supervisor: Any, inbox: Any
) -> None:
    client.force_login(supervisor)
    assert b'id="analytics-link" href="/analytics/"' in client.get("/inbox/").content
    client.force_login(agent)
    assert b"analytics-link" not in client.get("/inbox/").content
