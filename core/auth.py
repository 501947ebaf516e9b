"""API authentication: ``Authorization: Token <key>`` with hashed, expiring, revocable keys.

Also the login throttle for the token endpoint: failed logins are counted per username and per
client address in the Django cache (Redis in production, so every web process shares the counts).
The address is ``REMOTE_ADDR`` only: ``X-Forwarded-For`` is written by the client and would let an
attacker pick a fresh address for every guess.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from core import counters
from core.models import ApiToken, hash_token_key

KEYWORD = "Token"
# Writing last_used_at on every request would turn every read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenAuthentication(BaseAuthentication):
    """``Authorization: Token <key>``; an unknown, revoked or expired key is a 401 that says which."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: use 'Authorization: Token <key>'.")
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token header: the key has invalid characters.") from None
        return self.authenticate_key(key)

    def authenticate_key(self, key: str) -> tuple[Any, ApiToken]:
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token_key(key)).first()
        if token is None or token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if token.expires_at is not None and token.expires_at <= now:
            raise exceptions.AuthenticationFailed("The token has expired; issue a new one.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is deactivated.")
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "core.auth.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`, with a key from `POST /api/v1/auth/token/`.",
        }


# --- Login throttle ------------------------------------------------------------------------------

LOGIN_WINDOW_SECONDS = 15 * 60
LOGIN_LIMIT_PER_USERNAME = 5
LOGIN_LIMIT_PER_ADDRESS = 20


def client_address(request: Any) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    # Hashed: usernames and addresses may hold characters a cache key must not (spaces, colons of IPv6).
    user = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    addr = hashlib.sha256(address.encode()).hexdigest()
    return [(f"login-fail:user:{user}", LOGIN_LIMIT_PER_USERNAME), (f"login-fail:addr:{addr}", LOGIN_LIMIT_PER_ADDRESS)]


def login_retry_after(username: str, address: str) -> int | None:
    """Seconds until another attempt is allowed, or None when the username and address may try now."""
    now = time.time()
    wait = 0
    for key, limit in _keys(username, address):
        if (counters.get(key) or 0) >= limit:
            started = counters.get(f"{key}:start") or now
            wait = max(wait, int(started + LOGIN_WINDOW_SECONDS - now) + 1)
    return wait or None


def login_failed(username: str, address: str) -> None:
    """Count a failure; the window starts at the first failure and later ones do not extend it."""
    now = time.time()
    for key, _limit in _keys(username, address):
        counters.add(f"{key}:start", now, timeout=LOGIN_WINDOW_SECONDS)
        counters.hit(key, LOGIN_WINDOW_SECONDS)


def login_succeeded(username: str) -> None:
    key = _keys(username, "")[0][0]
    counters.forget(key, f"{key}:start")
