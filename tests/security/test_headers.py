"""22. Security headers on every answer, HSTS when served over HTTPS; ``check --deploy`` is clean in production
(tests/core/test_settings.py::test_check_deploy_is_clean_in_production runs it as a real process).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

PAGES = ["/admin/login/", "/api/v1/conversations/", "/healthz/", "/api/docs/"]


@pytest.mark.parametrize("path", PAGES)
def test_every_answer_carries_the_security_headers(client: Client, path: str) -> None:
    response = client.get(path)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    if response["Content-Type"].startswith("text/html"):
        assert response["X-Frame-Options"] == "DENY"


@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
@pytest.mark.parametrize("path", PAGES)
def test_hsts_is_sent_over_https(client: Client, path: str) -> None:
    assert "includeSubDomains" in client.get(path, secure=True)["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in client.get(path)  # never over plain http


def test_https_deployments_turn_hsts_and_secure_cookies_on(tmp_path: Any) -> None:
    from tests.core.test_settings import PRODUCTION, run_manage

    result = run_manage(
        tmp_path,
        "diffsettings",
        "--all",
        **{**PRODUCTION, "PUBLIC_BASE_URL": "https://inbox.example.com"},
    )
    shown = dict(line.lstrip("# ").split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
    assert shown["SECURE_HSTS_SECONDS"] == "31536000", result.stderr
    assert shown["SESSION_COOKIE_SECURE"] == shown["CSRF_COOKIE_SECURE"] == shown["SECURE_SSL_REDIRECT"] == "True"
    assert shown["X_FRAME_OPTIONS"] == "'DENY'"
