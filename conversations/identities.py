"""Normalization of channel identities, so one person is one identity whatever the formatting."""

from __future__ import annotations

import re

import phonenumbers

DEFAULT_REGION = "US"


class InvalidIdentity(ValueError):
    pass


def normalize_phone(value: str, *, region: str = DEFAULT_REGION) -> str:
    raw = value.strip()
    if raw.lower().startswith("whatsapp:"):
        raw = raw[len("whatsapp:") :]
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidIdentity(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentity(f"{value!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def normalize_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise InvalidIdentity(f"{value!r} is not an email address")
    return email


def normalize_opaque(value: str) -> str:
    token = value.strip()
    if not token or len(token) > 255:
        raise InvalidIdentity("an id must be 1 to 255 characters")
    return token


def normalize(kind: str, value: str) -> str:
    if kind in ("phone", "whatsapp"):
        return normalize_phone(value)
    if kind == "email":
        return normalize_email(value)
    if kind in ("web_visitor", "api"):
        return normalize_opaque(value)
    raise InvalidIdentity(f"unknown identity kind {kind!r}")
