"""The dashboard in a real browser over the demo company's data, saved as a screenshot.

The demo seed writes part of its history straight into the event log (as an import would), so
``rebuild_analytics`` builds the facts and rollups first, exactly as an operator would after an
import. The page is then served by Django's live server and opened in Chromium by Playwright.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from analytics.models import DailyRollup
from tests.channels_app.test_webchat_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, _browser_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _seed_and_rebuild(var_dir: Any) -> str:
    with override_settings(VAR_DIR=var_dir, MEDIA_ROOT=str(var_dir / "media")):
        call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("rebuild_analytics", stdout=out)
    return out.getvalue()


def _session_cookie() -> str:
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username="supervisor"))
    return client.cookies["sessionid"].value


def test_dashboard_shows_the_demo_companys_charts(live_server: Any, tmp_path: Any) -> None:
    sync_playwright = _browser_or_skip()
    ARTIFACTS.mkdir(exist_ok=True)
    # Before Playwright starts its event loop in this thread, where Django would refuse the ORM.
    assert "Rebuilt analytics" in _seed_and_rebuild(tmp_path)
    assert DailyRollup.objects.count() > 30
    session = _session_cookie()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
            page = context.new_page()
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            response = page.goto(f"{live_server.url}/analytics/")
            assert response is not None and response.status == 200
            # Real charts: bars and lines drawn from the demo's days, not empty frames.
            assert page.locator("figure.chart svg").count() == 6
            assert page.locator("figure.chart svg rect").count() > 20
            assert page.locator("figure.chart svg polyline").count() >= 4
            assert page.locator("#agents tbody tr").count() >= 5
            assert page.locator("#channels tbody tr").count() >= 5
            tiles = page.locator(".tile .value").all_inner_texts()
            assert all(text.strip() not in ("", "\u2013") for text in tiles[:3]), tiles
            page.screenshot(path=str(ARTIFACTS / "analytics-dashboard.png"), full_page=True)
            # Nothing was fetched from anywhere but the product itself.
            assert all(url.startswith(live_server.url) for url in requests), requests

            # The filters narrow the page: one channel.
            page.select_option("select[name=channel]", "sms")
            page.click("button[type=submit]")
            page.wait_for_url("**channel=sms**")
            assert page.locator("#channels tbody tr").count() == 1
            assert page.locator("#channels tbody tr td").first.inner_text() == "SMS"
        finally:
            browser.close()
