"""Reading a raw mail (RFC 5322 bytes) into what the inbox stores, without ever raising.

The stdlib parser (``policy=email.policy.default``) is tolerant, but header access, charset
lookups and content decoding can still fail on hostile or broken mail. Every such step is
guarded: what cannot be read is recorded in ``errors`` and the rest of the mail is kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import mimetypes
import re
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Any

from channels_app.email.sanitize import html_to_text, sanitize_html

logger = logging.getLogger(__name__)

_MSG_ID = re.compile(r"<[^<>\s]{1,250}>")
# Forwarded or bounced mail inside a mail: kept whole as an attachment, not walked into.
_OPAQUE_CONTAINERS = ("message/rfc822", "message/global", "message/delivery-status")


@dataclasses.dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""  # without angle brackets; set for inline (cid:) parts


@dataclasses.dataclass
class ParsedEmail:
    message_id: str  # "<...>"; synthesized from the content when the mail has none
    message_id_synthetic: bool
    from_address: str
    from_name: str
    to: list[str]
    cc: list[str]
    subject: str
    date: str
    in_reply_to: list[str]
    references: list[str]
    body: str
    html: str
    attachments: list[ParsedAttachment]
    headers: dict[str, str]  # lower-cased names of the headers the automated-mail checks read
    content_type: str
    errors: list[str]

    @property
    def thread_references(self) -> list[str]:
        """Message-IDs this mail answers, the most direct first."""
        ordered = self.in_reply_to + list(reversed(self.references))
        return list(dict.fromkeys(ordered))


def message_ids(value: str) -> list[str]:
    return _MSG_ID.findall(value or "")


def _raw_header(msg: Message, name: str) -> str:
    """A header's value even when the modern policy cannot parse it."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            try:
                return str(make_header(decode_header(str(value)))).strip()
            except Exception:
                return str(value).strip()
    return ""


def _header(msg: Message, name: str, errors: list[str]) -> str:
    try:
        value = msg.get(name)
        return "" if value is None else str(value).strip()
    except Exception as exc:
        errors.append(f"header {name}: {type(exc).__name__}: {exc}")
        return _raw_header(msg, name)


def _addresses(msg: Message, name: str, errors: list[str]) -> list[tuple[str, str]]:
    try:
        header = msg.get(name)
        if header is None:
            return []
        found = [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())]
        if found:
            return found
    except Exception as exc:
        errors.append(f"header {name}: {type(exc).__name__}: {exc}")
    return [(n, a) for n, a in getaddresses([_raw_header(msg, name)]) if a]


def _decoded_text(part: Message, errors: list[str]) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except Exception as exc:
        errors.append(f"text part {part.get_content_type()}: {type(exc).__name__}: {exc}")
    payload = _payload_bytes(part)
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8", "windows-1252"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", errors="replace")


def _payload_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", errors="replace")
    if isinstance(raw, list):  # a container: keep it whole
        return b"".join(p.as_bytes() for p in raw if isinstance(p, Message))
    return b""


def _filename(part: Message, index: int, errors: list[str]) -> str:
    name = ""
    try:
        name = part.get_filename() or ""
    except Exception as exc:
        errors.append(f"attachment name: {type(exc).__name__}: {exc}")
    if not name:
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            extension = ".txt"
        elif content_type in _OPAQUE_CONTAINERS:
            extension = ".eml"
        else:
            extension = mimetypes.guess_extension(content_type) or ".bin"
        name = f"part-{index}{extension}"
    return name


def _is_attachment(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
        has_name = bool(part.get_filename())
    except Exception:
        return True
    return disposition == "attachment" or (
        disposition == "inline" and has_name and part.get_content_maintype() != "text"
    )


def _leaves(msg: Message) -> list[Message]:
    """The parts that carry content, depth first; forwarded mails stay whole."""
    found: list[Message] = []

    def visit(part: Message, depth: int) -> None:
        if depth > 30:  # a mail nested absurdly deep is hostile; stop rather than recurse forever
            return
        if part.is_multipart() and part.get_content_type() not in _OPAQUE_CONTAINERS:
            payload = part.get_payload()
            for child in payload if isinstance(payload, list) else []:
                if isinstance(child, Message):
                    visit(child, depth + 1)
            return
        found.append(part)

    visit(msg, 0)
    return found


def synthetic_message_id(raw: bytes) -> str:
    """A stable stand-in for a missing Message-ID, so a mail read twice is still one message."""
    return f"<sha256.{hashlib.sha256(raw).hexdigest()}@no-message-id.invalid>"


def parse_email(raw: bytes) -> ParsedEmail:
    errors: list[str] = []
    msg: Any = message_from_bytes(raw, policy=policy.default)
    for defect in getattr(msg, "defects", [])[:10]:
        errors.append(f"defect: {type(defect).__name__}")

    message_id_list = message_ids(_header(msg, "Message-ID", errors))
    message_id = message_id_list[0] if message_id_list else ""
    synthetic = not message_id
    if synthetic:
        message_id = synthetic_message_id(raw)

    senders = _addresses(msg, "From", errors) or [("", parseaddr(_raw_header(msg, "From"))[1])]
    from_name, from_address = senders[0]

    body_parts: list[str] = []
    html = ""
    attachments: list[ParsedAttachment] = []
    for index, part in enumerate(_leaves(msg), start=1):
        try:
            content_type = part.get_content_type()
            if content_type in ("text/plain", "text/html") and not _is_attachment(part):
                text = _decoded_text(part, errors)
                if content_type == "text/plain":
                    body_parts.append(text)
                elif not html:
                    html = text
                else:  # a second HTML body (rare): keep it as a file rather than lose it
                    attachments.append(ParsedAttachment(f"part-{index}.html", content_type, text.encode()))
                continue
            content_id = (part.get("Content-ID") or "").strip().strip("<>")
            attachments.append(
                ParsedAttachment(
                    filename=_filename(part, index, errors),
                    content_type=content_type,
                    content=_payload_bytes(part),
                    content_id=content_id,
                )
            )
        except Exception as exc:  # one unreadable part never costs the rest of the mail
            errors.append(f"part {index}: {type(exc).__name__}: {exc}")
            logger.warning("email part %s of %s unreadable: %s", index, message_id, exc)

    safe_html = sanitize_html(html) if html else ""
    body = "\n\n".join(p.replace("\r\n", "\n").strip("\n") for p in body_parts if p.strip()).strip()
    if not body and html:
        body = html_to_text(html)

    headers = {}
    for name in (
        "Auto-Submitted",
        "Precedence",
        "X-Autoreply",
        "X-Autorespond",
        "X-Auto-Response-Suppress",
        "List-Id",
        "List-Unsubscribe",
        "Return-Path",
        "X-Failed-Recipients",
    ):
        value = _header(msg, name, errors)
        if value or (name == "Return-Path" and name in msg):
            headers[name.lower()] = value

    try:
        content_type = msg.get_content_type()
        if content_type == "multipart/report":
            content_type += f"; report-type={msg.get_param('report-type', '')}"
    except Exception:
        content_type = "application/octet-stream"

    return ParsedEmail(
        message_id=message_id,
        message_id_synthetic=synthetic,
        from_address=from_address.strip(),
        from_name=from_name.strip(),
        to=[a for _, a in _addresses(msg, "To", errors)],
        cc=[a for _, a in _addresses(msg, "Cc", errors)],
        subject=" ".join(_header(msg, "Subject", errors).split()),
        date=_header(msg, "Date", errors),
        in_reply_to=message_ids(_header(msg, "In-Reply-To", errors)),
        references=message_ids(_header(msg, "References", errors)),
        body=body,
        html=safe_html,
        attachments=attachments,
        headers=headers,
        content_type=content_type,
        errors=errors,
    )
