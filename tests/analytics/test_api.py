"""The analytics API and dashboard: supervisors only, the same filters everywhere, CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from analytics import recorder
from core.models import ApiToken
from tests import factories as f

pytestmark = pytest.mark.django_db

RANGE = "start=2026-03-02&end=2026-03-03"


def client_for(user: Any) -> APIClient:
    _token, key = ApiToken.issue(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def boss(supervisor: Any, reopened_conversation: Any) -> APIClient:
    recorder.refresh()
    return client_for(supervisor)


ENDPOINTS = [
    "summary/",
    "timeseries/",
    "metrics/",
    "metrics/first_response_time/",
    "agents/",
    "teams/",
    "inboxes/",
    "channels/",
    "export.csv",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_agents_are_refused_every_report(endpoint: str, agent: Any, reopened_conversation: Any) -> None:
    response = client_for(agent).get(f"/api/v1/analytics/{endpoint}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_anonymous_requests_are_refused(endpoint: str, db: Any) -> None:
    assert APIClient().get(f"/api/v1/analytics/{endpoint}").status_code in (401, 403)


def test_summary_has_every_metric(boss: APIClient) -> None:
    body = boss.get(f"/api/v1/analytics/summary/?{RANGE}").json()
    assert body["filters"] == {"start": "2026-03-02", "end": "2026-03-03", "team": None, "inbox": None, "channel": None}
    metrics = body["metrics"]
    assert metrics["first_response_time"] == 600
    assert metrics["resolution_time"] == 4500
    assert metrics["resolved"] == 2
    assert body["live"]["open_now"] == 0


def test_timeseries_has_one_row_per_day(boss: APIClient) -> None:
    days = boss.get(f"/api/v1/analytics/timeseries/?{RANGE}").json()["days"]
    assert [(d["day"], d["resolved"], d["backlog"]) for d in days] == [("2026-03-02", 1, 0), ("2026-03-03", 1, 0)]


def test_one_metric_with_its_daily_values(boss: APIClient) -> None:
    body = boss.get(f"/api/v1/analytics/metrics/resolution_time/?{RANGE}").json()
    assert body["value"] == 4500
    assert body["days"] == [{"day": "2026-03-02", "value": 5400}, {"day": "2026-03-03", "value": 3600}]
    assert boss.get(f"/api/v1/analytics/metrics/backlog/?{RANGE}").json()["value"] == 0
    names = {m["name"] for m in boss.get(f"/api/v1/analytics/metrics/?{RANGE}").json()["metrics"]}
    assert {"first_response_time", "handoff_rate", "sla_compliance", "csat_average"} <= names


def test_unknown_metric_is_a_404(boss: APIClient) -> None:
    response = boss.get("/api/v1/analytics/metrics/happiness/")
    assert response.status_code == 404
    assert "happiness" in response.json()["error"]["message"]


def test_filters_apply_to_breakdowns(boss: APIClient, team: Any, agent: Any, teammate: Any) -> None:
    rows = boss.get(f"/api/v1/analytics/agents/?{RANGE}&team={team.pk}").json()["rows"]
    assert {row["id"]: row["resolved"] for row in rows} == {agent.pk: 1, teammate.pk: 1}
    other = f.TeamFactory(name="Sales")
    assert boss.get(f"/api/v1/analytics/agents/?{RANGE}&team={other.pk}").json()["rows"] == []
    assert boss.get(f"/api/v1/analytics/channels/?{RANGE}&channel=email").json()["rows"] == []
    channels = boss.get(f"/api/v1/analytics/channels/?{RANGE}&channel=sms").json()["rows"]
    assert [(row["id"], row["new_conversations"]) for row in channels] == [("sms", 1)]
    teams = boss.get(f"/api/v1/analytics/teams/?{RANGE}").json()["rows"]
    assert [(row["name"], row["resolved"]) for row in teams] == [("Support", 2)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=yesterday", "start must be a date"),
        ("start=2026-03-05&end=2026-03-01", "start must not be after end"),
        ("start=2020-01-01&end=2026-01-01", "at most 400 days"),
        ("channel=fax", "Unknown channel 'fax'"),
        ("team=abc", "team must be an id"),
        ("team=999999", "no team 999999"),
        ("inbox=%C2%B2", "inbox must be an id"),
    ],
)
def test_bad_filters_are_400_with_a_message(boss: APIClient, query: str, message: str) -> None:
    response = boss.get(f"/api/v1/analytics/summary/?{query}")
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_csv_export_per_agent(boss: APIClient, agent: Any, teammate: Any) -> None:
    response = boss.get(f"/api/v1/analytics/export.csv?{RANGE}&group=agent")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_name = {row["name"]: row for row in rows}
    assert by_name["Alice Agent"]["first_response_time"] == "600"
    assert by_name["Bob Teammate"]["next_response_time"] == "1200"


def test_csv_export_per_day_and_bad_group(boss: APIClient) -> None:
    rows = list(csv.DictReader(io.StringIO(boss.get(f"/api/v1/analytics/export.csv?{RANGE}").content.decode())))
    assert [(row["day"], row["resolved"], row["resolution_time"]) for row in rows] == [
        ("2026-03-02", "1", "5400"),
        ("2026-03-03", "1", "3600"),
    ]
    response = boss.get("/api/v1/analytics/export.csv?group=contact")
    assert response.status_code == 400
    assert "group must be one of" in response.json()["error"]["message"]


def test_csv_cells_from_names_cannot_run_as_formulas(supervisor: Any, reopened_conversation: Any, agent: Any) -> None:
    agent.first_name, agent.last_name = "=HYPERLINK(1)", ""
    agent.save()
    recorder.refresh()
    body = client_for(supervisor).get(f"/api/v1/analytics/export.csv?{RANGE}&group=agent").content.decode()
    assert "'=HYPERLINK(1)" in body


# --- The dashboard ----------------------------------------------------------------------------


def test_dashboard_for_supervisors(supervisor: Any, reopened_conversation: Any) -> None:
    recorder.refresh()
    client = Client()
    client.force_login(supervisor)
    response = client.get(f"/analytics/?{RANGE}")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") == 6
    assert "Average response time" in html and "Resolved today" in html
    assert "Alice Agent" in html and "Bob Teammate" in html
    assert "<td>SMS</td>" in html
    assert "cdn" not in html and "<script" not in html


def test_dashboard_refuses_agents_and_sends_visitors_to_login(agent: Any) -> None:
    client = Client()
    assert client.get("/analytics/").status_code == 302
    assert "/admin/login/" in client.get("/analytics/")["Location"]
    client.force_login(agent)
    assert client.get("/analytics/").status_code == 403


def test_dashboard_shows_a_bad_filter_instead_of_failing(supervisor: Any) -> None:
    client = Client()
    client.force_login(supervisor)
    response = client.get("/analytics/?start=soon")
    assert response.status_code == 400
    assert "start must be a date" in response.content.decode()


def test_dashboard_escapes_names(supervisor: Any, reopened_conversation: Any, agent: Any) -> None:
    agent.first_name = "<script>alert(1)</script>"
    agent.save()
    recorder.refresh()
    client = Client()
    client.force_login(supervisor)
    html = client.get(f"/analytics/?{RANGE}").content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html


def test_back_office_index_links_to_the_dashboard(supervisor: Any) -> None:
    client = Client()
    client.force_login(supervisor)
    assert 'href="/analytics/"' in client.get("/admin/").content.decode()
