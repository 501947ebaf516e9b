from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, FakeTwilio, running_fake_twilio


@pytest.fixture
def fake_twilio(settings: Any) -> Iterator[FakeTwilio]:
    """A Twilio account configured, and the real SDK pointed at a local server imitating Twilio's API."""
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    with running_fake_twilio() as fake:
        settings.TWILIO_API_BASE_URL = fake.base_url
        yield fake
