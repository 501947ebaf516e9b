"""One system check per integration: each says which variables are missing.

A half-made configuration is an error at every start. An integration that is simply not
configured is reported by ``manage.py check --deploy`` (and printed by ``run_embedded``),
so ordinary commands stay quiet in a fresh embedded install.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Info, Tags, Warning, register


def _missing(*names: str) -> list[str]:
    return [name for name in names if not getattr(settings, name, "")]


@register(Tags.compatibility)
def check_twilio(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    missing = _missing("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    if len(missing) == 1:
        return [Error(f"Twilio is half configured: {missing[0]} is missing.", id="inbox.E001")]
    return []


@register(Tags.compatibility)
def check_email(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend" and not settings.EMAIL_HOST:
        return [Error("EMAIL_BACKEND sends by SMTP but EMAIL_HOST is not set.", id="inbox.E002")]
    return []


def integration_status() -> list[CheckMessage]:
    """What is not configured, as information for whoever runs the product."""
    messages: list[CheckMessage] = []
    if len(_missing("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")) == 2:
        messages.append(
            Info(
                "Twilio is not configured: SMS, WhatsApp and voice inboxes can neither verify webhooks nor send.",
                hint="Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.",
                id="inbox.I001",
            )
        )
    if settings.EMAIL_BACKEND != "django.core.mail.backends.smtp.EmailBackend":
        messages.append(
            Info(
                "Outgoing email is not configured: mail is written to the console instead of being sent.",
                hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD).",
                id="inbox.I002",
            )
        )
    if not settings.ANTHROPIC_API_KEY:
        messages.append(
            Info(
                "ANTHROPIC_API_KEY is not set: the assistant uses the built-in local responder.",
                hint="Set ANTHROPIC_API_KEY (and optionally ANTHROPIC_MODEL) to answer with Claude.",
                id="inbox.I003",
            )
        )
    return messages


@register(Tags.compatibility, deploy=True)
def check_integrations_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return integration_status()


@register(Tags.security, deploy=True)
def check_public_base_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not settings.PUBLIC_BASE_URL.startswith("https://"):
        return [
            Warning(
                "PUBLIC_BASE_URL is not https: provider webhooks and the widget would travel unencrypted.",
                hint="Set PUBLIC_BASE_URL to the https address the product is reached at.",
                id="inbox.W001",
            )
        ]
    return []
