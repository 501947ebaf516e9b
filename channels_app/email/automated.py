"""Mail that no machine of ours may answer: auto-replies, bounces, bulk and list mail.

Such mail is stored (an agent may still want to read a bounce) but flagged in
``message.metadata["automated"]`` with the reason, and anything that answers automatically
(the assistant, CSAT, auto-acknowledgements) must ask :func:`is_automated` first. Answering
an auto-reply with an auto-reply is how mail loops start (RFC 3834).
"""

from __future__ import annotations

from typing import Any

_BULK_PRECEDENCE = {"bulk", "list", "junk"}
_DAEMON_LOCALPARTS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}


def is_automated(message: Any) -> bool:
    """Whether a stored message was written by a machine, so nothing automatic may answer it."""
    metadata = getattr(message, "metadata", None)
    return isinstance(metadata, dict) and bool(metadata.get("automated"))


def automated_reason(
    *, headers: dict[str, str], from_address: str, content_type: str, own_addresses: frozenset[str] = frozenset()
) -> str:
    """Why a mail counts as automated ("" when a person wrote it). ``headers`` has lower-cased names."""
    auto_submitted = headers.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"auto-submitted:{auto_submitted}"
    localpart = from_address.lower().split("@")[0]
    if localpart in _DAEMON_LOCALPARTS or content_type.startswith("multipart/report"):
        return "bounce"
    if "x-failed-recipients" in headers:
        return "bounce"
    if "return-path" in headers and headers["return-path"].strip() in ("<>", ""):
        # The null reverse-path: only delivery reports and auto-replies are sent with it.
        return "null-return-path"
    if headers.get("x-autoreply") or headers.get("x-autorespond"):
        return "auto-reply"
    suppress = {v.strip().lower() for v in headers.get("x-auto-response-suppress", "").split(",")}
    if suppress & {"all", "oof", "autoreply"}:
        return "auto-reply"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"precedence:{precedence}"
    if headers.get("list-id") or headers.get("list-unsubscribe"):
        return "mailing-list"
    if from_address.lower() in own_addresses:
        return "own-address"
    return ""
