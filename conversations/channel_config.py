"""Typed settings for each kind of inbox, stored as JSON on the inbox and checked on save."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlparse

from conversations.identities import InvalidIdentity, normalize_email, normalize_phone


class ConfigError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class WebchatConfig:
    allowed_origins: list[str] = dataclasses.field(default_factory=list)
    greeting: str = "Hi! How can we help?"
    color: str = "#2563eb"
    require_identity_verification: bool = False


@dataclasses.dataclass(frozen=True)
class TwilioConfig:
    """SMS, WhatsApp and voice: the Twilio number that customers reach."""

    phone_number: str = ""
    messaging_service_sid: str = ""


@dataclasses.dataclass(frozen=True)
class EmailConfig:
    address: str = ""
    imap_host: str = ""
    imap_port: int = 993
    imap_use_ssl: bool = True
    imap_username: str = ""
    imap_folder: str = "INBOX"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_use_tls: bool = True
    smtp_username: str = ""
    poll_interval_seconds: int = 60


@dataclasses.dataclass(frozen=True)
class ApiConfig:
    outbound_url: str = ""


ChannelConfig = WebchatConfig | TwilioConfig | EmailConfig | ApiConfig

CONFIG_TYPES: dict[str, type[Any]] = {
    "webchat": WebchatConfig,
    "sms": TwilioConfig,
    "whatsapp": TwilioConfig,
    "voice": TwilioConfig,
    "email": EmailConfig,
    "api": ApiConfig,
}


def _check_type(name: str, value: Any, expected: Any) -> None:
    origin = {"list[str]": list, "str": str, "int": int, "bool": bool}.get(str(expected))
    if origin is None:
        return
    if origin is int and isinstance(value, bool):
        raise ConfigError(f"{name} must be a whole number")
    if not isinstance(value, origin):
        raise ConfigError(f"{name} must be {'a list' if origin is list else 'a ' + origin.__name__}")
    if isinstance(value, list) and not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{name} must be a list of strings")


def parse(kind: str, data: dict[str, Any]) -> ChannelConfig:
    config_type = CONFIG_TYPES.get(kind)
    if config_type is None:
        raise ConfigError(f"unknown inbox kind {kind!r}")
    if not isinstance(data, dict):
        raise ConfigError("config must be a JSON object")
    fields = {field.name: field for field in dataclasses.fields(config_type)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(f"unknown settings for a {kind} inbox: {', '.join(sorted(unknown))}")
    for name, value in data.items():
        _check_type(name, value, fields[name].type)
    result: ChannelConfig = config_type(**data)
    return result


def validate(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """Check and normalize an inbox's config; return it as it should be stored."""
    config = parse(kind, data)
    cleaned = dict(data)
    try:
        if isinstance(config, TwilioConfig) and config.phone_number:
            cleaned["phone_number"] = normalize_phone(config.phone_number)
        if isinstance(config, EmailConfig) and config.address:
            cleaned["address"] = normalize_email(config.address)
    except InvalidIdentity as exc:
        raise ConfigError(str(exc)) from None
    if isinstance(config, WebchatConfig):
        for origin in config.allowed_origins:
            parsed = urlparse(origin)
            if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path not in ("", "/"):
                raise ConfigError(f"allowed origin {origin!r} must look like https://www.example.com")
        cleaned["allowed_origins"] = [origin.rstrip("/").lower() for origin in config.allowed_origins]
    if (
        isinstance(config, ApiConfig)
        and config.outbound_url
        and urlparse(config.outbound_url).scheme
        not in (
            "http",
            "https",
        )
    ):
        raise ConfigError("outbound_url must be an http(s) URL")
    if isinstance(config, EmailConfig):
        for port_name in ("imap_port", "smtp_port"):
            if not 0 < getattr(config, port_name) < 65536:
                raise ConfigError(f"{port_name} must be a port number")
    return cleaned
