"""19. Rate limits on login, token and widget endpoints, not bypassable with X-Forwarded-For; Twilio never 429.

The token endpoint's and the widget's limits are tested where they live (tests/api/test_auth.py,
tests/channels_app/test_webchat.py); here: the back office's login, the client address behind
proxies, and the whole matrix of spoofed X-Forwarded-For values against each limit.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings

from core.middleware import forwarded_client
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, post_signed, sms_payload

pytestmark = pytest.mark.django_db

PASSWORD = "a-correct-horse-battery"


def admin_login(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"}, **extra)


@pytest.fixture
def staff(supervisor: Any) -> Any:
    supervisor.set_password(PASSWORD)
    supervisor.save()
    return supervisor


def test_back_office_login_is_limited_per_username(staff: Any) -> None:
    client = Client()
    for i in range(5):
        assert admin_login(client, staff.username, "wrong", REMOTE_ADDR=f"10.0.0.{i}").status_code == 200
    refused = admin_login(client, staff.username, PASSWORD, REMOTE_ADDR="10.0.1.1")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


def test_back_office_login_is_limited_per_address_whatever_x_forwarded_for_says(staff: Any) -> None:
    client = Client()
    for i in range(20):
        admin_login(client, f"guess{i}", "wrong", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}")
    refused = admin_login(client, staff.username, PASSWORD, REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="8.8.8.8")
    assert refused.status_code == 429
    assert admin_login(client, staff.username, PASSWORD, REMOTE_ADDR="10.9.9.10").status_code == 302


def test_a_good_login_is_not_limited(staff: Any) -> None:
    client = Client()
    for _ in range(3):
        admin_login(client, staff.username, "wrong")
    assert admin_login(client, staff.username, PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("header", "hops", "expected"),
    [
        ("203.0.113.7", 1, "203.0.113.7"),
        ("6.6.6.6, 203.0.113.7", 1, "203.0.113.7"),  # the client prepended a lie; the proxy appended the truth
        ("6.6.6.6, 203.0.113.7, 10.0.0.2", 2, "203.0.113.7"),
        ("203.0.113.7", 2, None),  # shorter than the proxies we run: not trusted
        ("6.6.6.6", 0, None),  # no proxies configured: never trusted
    ],
)
def test_the_client_address_is_read_from_the_right_of_x_forwarded_for(header: str, hops: int, expected: Any) -> None:
    assert forwarded_client(header, hops) == expected


@override_settings(TRUSTED_PROXY_HOPS=1)
def test_behind_a_proxy_spoofed_forwarded_for_entries_do_not_reset_the_limit(staff: Any) -> None:
    client = Client()
    for i in range(20):  # an attacker at 198.51.100.9 behind our one proxy, inventing a new address each time
        admin_login(
            client, f"guess{i}", "wrong", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}, 198.51.100.9"
        )
    refused = admin_login(
        client, staff.username, PASSWORD, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="8.8.8.8, 198.51.100.9"
    )
    assert refused.status_code == 429
    # Someone else behind the same proxy is not punished for it.
    assert (
        admin_login(
            client, staff.username, PASSWORD, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.44"
        ).status_code
        == 302
    )


def test_the_procfile_does_not_let_daphne_take_the_client_chosen_address() -> None:
    from pathlib import Path

    procfile = (Path(__file__).resolve().parents[2] / "Procfile").read_text()
    web = next(line for line in procfile.splitlines() if line.startswith("web:"))
    assert "--proxy-headers" not in web


def test_twilio_webhooks_never_answer_429(client: Client, sms_inbox: Any, settings: Any) -> None:
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    path = f"/channels/twilio/{sms_inbox.webhook_token}/messages/"
    statuses = {post_signed(client, path, sms_payload(), REMOTE_ADDR="10.1.1.1").status_code for _ in range(40)}
    assert statuses == {200}


def test_with_the_shared_cache_down_logins_work_and_guesses_are_still_limited(
    staff: Any, settings: Any, caplog: Any, monkeypatch: Any
) -> None:
    from core import counters
    from tests.core.test_run_modes import free_port

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing answers there: Redis is down
        }
    }
    counters._local.clear()
    monkeypatch.setattr(counters, "_warned_at", 0.0)  # the warning is once a minute per process: an earlier test's
    client = Client()
    with caplog.at_level("ERROR", logger="core.counters"):
        assert admin_login(client, staff.username, PASSWORD).status_code == 302  # not a 500
        for i in range(5):
            assert admin_login(Client(), staff.username, "wrong", REMOTE_ADDR=f"10.0.0.{i}").status_code == 200
        assert admin_login(Client(), staff.username, PASSWORD, REMOTE_ADDR="10.0.1.1").status_code == 429
    assert "shared cache is unreachable" in caplog.text
