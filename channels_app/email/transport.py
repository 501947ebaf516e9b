"""Outbound email: a reply sent by SMTP as a proper answer in the customer's thread.

The inbox's own SMTP server (``smtp_host`` with ``credentials["smtp_password"]``) is used
when set, otherwise the project's EMAIL_* settings. The mail carries our Message-ID (see
``channels_app.email.threads``), In-Reply-To and References to the customer's last mail, and
"Re: <subject>". SMTP 4xx replies and connection problems are worth a retry; 5xx replies
are permanent and their text is kept as the delivery error.
"""

from __future__ import annotations

import dataclasses
import logging
import mimetypes
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from django.conf import settings
from django.utils import timezone

from channels_app.email.threads import outbound_message_id
from channels_app.transports import SendResult, TransportError, register
from conversations.channel_config import ConfigError, EmailConfig
from conversations.models import ChannelIdentity, Direction, IdentityKind, Message, SenderKind

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 30
MAX_REFERENCES = 20
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|fwd?|wg)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str
    password: str
    starttls: bool
    implicit_tls: bool
    timeout: int


def smtp_server_for(config: EmailConfig, credentials: dict[str, object]) -> SmtpServer:
    if config.smtp_host:
        return SmtpServer(
            host=config.smtp_host,
            port=config.smtp_port,
            username=config.smtp_username,
            password=str(credentials.get("smtp_password", "") or ""),
            starttls=config.smtp_use_tls and config.smtp_port != 465,
            implicit_tls=config.smtp_port == 465,
            timeout=SMTP_TIMEOUT_SECONDS,
        )
    if settings.EMAIL_HOST:
        return SmtpServer(
            host=settings.EMAIL_HOST,
            port=settings.EMAIL_PORT,
            username=settings.EMAIL_HOST_USER,
            password=settings.EMAIL_HOST_PASSWORD,
            starttls=settings.EMAIL_USE_TLS,
            implicit_tls=settings.EMAIL_USE_SSL,
            timeout=settings.EMAIL_TIMEOUT,
        )
    raise TransportError("No SMTP server: set the inbox's smtp_host or the EMAIL_HOST setting.", permanent=True)


def reply_subject(subject: str) -> str:
    base = _REPLY_PREFIX.sub("", subject or "").strip()
    return f"Re: {base}" if base else ""


def _recipient(message: Message, parent: Message | None) -> str:
    if parent is not None:
        address = (parent.metadata.get("email") or {}).get("from")
        if isinstance(address, str) and address:
            return address
    identity = (
        ChannelIdentity.objects.filter(contact_id=message.conversation.contact_id, kind=IdentityKind.EMAIL)
        .order_by("created_at", "id")
        .first()
    )
    if identity is None:
        raise TransportError("The contact has no email address.", permanent=True)
    return identity.value


def build_email(message: Message) -> EmailMessage:
    """The mail for an outbound message, exactly as it will be sent."""
    conversation = message.conversation
    inbox = conversation.inbox
    try:
        config = inbox.typed_config
    except ConfigError as exc:
        raise TransportError(f"The inbox's email settings are invalid: {exc}", permanent=True) from None
    if not isinstance(config, EmailConfig):
        raise TransportError(f"Inbox {inbox.pk} is not an email inbox.", permanent=True)
    sender = config.address or settings.DEFAULT_FROM_EMAIL
    domain = sender.rsplit("@", 1)[-1]
    parent = (
        Message.objects.filter(conversation=conversation, direction=Direction.INBOUND)
        .order_by("-created_at", "-id")
        .first()
    )
    recipient = _recipient(message, parent)

    mail = EmailMessage()
    mail["From"] = formataddr((inbox.name, sender))
    mail["To"] = formataddr((conversation.contact.name, recipient))
    subject = reply_subject(parent.subject if parent is not None else "") or reply_subject(conversation.subject)
    mail["Subject"] = subject or f"Your conversation with {inbox.name}"
    mail["Date"] = format_datetime(message.created_at or timezone.now())
    mail["Message-ID"] = outbound_message_id(conversation_id=conversation.pk, message_id=message.pk, domain=domain)
    if parent is not None:
        details = parent.metadata.get("email") or {}
        if parent.channel_message_id and not details.get("message_id_synthetic"):
            references = [r for r in details.get("references") or [] if isinstance(r, str)]
            chain = list(dict.fromkeys([*references, parent.channel_message_id]))[-MAX_REFERENCES:]
            mail["In-Reply-To"] = parent.channel_message_id
            mail["References"] = " ".join(chain)
    if message.sender_kind in (SenderKind.ASSISTANT, SenderKind.SYSTEM):
        # RFC 3834: a machine's answer says so, so that other machines do not answer it.
        mail["Auto-Submitted"] = "auto-replied"
    mail.set_content(message.body or "")
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as handle:
            content = handle.read()
        content_type = attachment.content_type or mimetypes.guess_type(attachment.filename)[0] or ""
        maintype, _, subtype = content_type.partition("/")
        if not subtype or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        mail.add_attachment(content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return mail


def _smtp_failure(code: int, text: bytes | str, what: str) -> TransportError:
    reply = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return TransportError(f"{what}: SMTP {code} {reply}".strip(), permanent=500 <= code < 600)


def deliver(mail: EmailMessage, server: SmtpServer, *, envelope_from: str, recipient: str) -> None:
    """Hand the mail to the SMTP server, raising TransportError with permanent set as SMTP says."""
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if server.implicit_tls:
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout, context=context)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
        with smtp:
            smtp.ehlo()
            if server.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if server.username and server.password:
                smtp.login(server.username, server.password)
            smtp.send_message(mail, from_addr=envelope_from, to_addrs=[recipient])
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()), (450, b"recipient refused"))
        raise _smtp_failure(code, text, f"{recipient} refused") from exc
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, auth failed, ...
        raise _smtp_failure(exc.smtp_code, exc.smtp_error, "SMTP server refused the mail") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise TransportError(f"SMTP server {server.host}: {exc}", permanent=True) from exc
    except ssl.SSLCertVerificationError as exc:
        raise TransportError(f"SMTP server {server.host}: certificate not trusted: {exc}", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:  # disconnects, timeouts, refused connections
        raise TransportError(f"SMTP server {server.host}:{server.port} unreachable: {exc}", permanent=False) from exc


@register("email")
def send_email(message: Message) -> SendResult:
    mail = build_email(message)
    inbox = message.conversation.inbox
    config = inbox.typed_config
    assert isinstance(config, EmailConfig)  # build_email checked it
    server = smtp_server_for(config, inbox.credentials or {})
    recipient = mail["To"].addresses[0].addr_spec
    deliver(mail, server, envelope_from=config.address or settings.DEFAULT_FROM_EMAIL, recipient=recipient)
    logger.info("message %s sent by email to %s as %s", message.pk, recipient, mail["Message-ID"])
    return SendResult(status="sent", channel_message_id=str(mail["Message-ID"]))
