"""Inbound email: read new mail from an inbox's IMAP folder and store it.

How a poll stays correct:
- One poller per mailbox: a lease on the MailboxState row, claimed with a conditional
  update (free, or expired) and released at the end. A crashed poller's lease expires.
- No network call inside a database transaction: each mail is fetched first, then stored
  by the service in its own transaction, then ``last_uid`` is moved past it.
- ``last_uid`` moves only after the mail is committed, so a crash in between reads the mail
  again next time, and its Message-ID (unique per inbox) makes the second read change nothing.
- When UIDVALIDITY changes, the folder is read again from the start; Message-IDs again keep
  every mail once.
- The folder is opened read-only (EXAMINE): polling never marks mail as read for the people
  who also use the mailbox in a mail client.
"""

from __future__ import annotations

import contextlib
import dataclasses
import imaplib
import logging
import secrets
import ssl
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from channels_app.email.inbound import receive_email
from channels_app.email.models import MailboxState
from conversations.channel_config import ConfigError, EmailConfig
from conversations.models import ChannelKind, Inbox

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_MESSAGES_PER_POLL = 200
MAX_FAILURES_PER_MESSAGE = 3
IMAP_TIMEOUT_SECONDS = 30


class MailboxError(Exception):
    """The mailbox could not be read (connection, login, folder); the next poll tries again."""


@dataclasses.dataclass
class PollReport:
    inbox_id: int
    status: str = "ok"  # "ok", "busy" (another poller holds the lease), "error", "not-configured"
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    resynced: bool = False
    error: str = ""


@contextlib.contextmanager
def imap_connection(config: EmailConfig, password: str) -> Iterator[imaplib.IMAP4]:
    try:
        imap: imaplib.IMAP4
        if config.imap_use_ssl:
            imap = imaplib.IMAP4_SSL(
                config.imap_host,
                config.imap_port,
                ssl_context=ssl.create_default_context(),
                timeout=IMAP_TIMEOUT_SECONDS,
            )
        else:
            imap = imaplib.IMAP4(config.imap_host, config.imap_port, timeout=IMAP_TIMEOUT_SECONDS)
            if "STARTTLS" in imap.capabilities:
                imap.starttls(ssl_context=ssl.create_default_context())
        imap.login(config.imap_username or config.address, password)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailboxError(f"cannot log in to {config.imap_host}:{config.imap_port}: {exc}") from exc
    try:
        yield imap
    finally:
        with contextlib.suppress(Exception):
            imap.logout()


def _select(imap: imaplib.IMAP4, folder: str) -> int:
    """Open the folder read-only; return its UIDVALIDITY."""
    typ, data = imap.select(_quote(folder), readonly=True)
    if typ != "OK":
        raise MailboxError(f"cannot open folder {folder!r}: {data!r}")
    _, values = imap.response("UIDVALIDITY")
    if not values or values[0] is None:
        typ, data = imap.status(_quote(folder), "(UIDVALIDITY)")
        text = data[0].decode() if typ == "OK" and isinstance(data[0], bytes) else ""
        values = [text.rsplit("UIDVALIDITY", 1)[-1].strip(" )").encode()] if "UIDVALIDITY" in text else []
    try:
        return int(values[0])
    except (IndexError, TypeError, ValueError):
        raise MailboxError(f"the server gave folder {folder!r} no UIDVALIDITY") from None


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _new_uids(imap: imaplib.IMAP4, last_uid: int) -> list[int]:
    typ, data = imap.uid("SEARCH", f"UID {last_uid + 1}:*")
    if typ != "OK":
        raise MailboxError(f"UID SEARCH failed: {data!r}")
    raw = b" ".join(item for item in data if isinstance(item, bytes))
    # "n:*" always matches the newest mail, even when its UID is below n: keep only new ones.
    return sorted(uid for uid in (int(x) for x in raw.split() if x.isascii() and x.isdigit()) if uid > last_uid)


def _fetch(imap: imaplib.IMAP4, uid: int) -> bytes | None:
    typ, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
    if typ != "OK":
        raise MailboxError(f"UID FETCH {uid} failed: {data!r}")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None  # expunged since the search


def _claim(state: MailboxState) -> str | None:
    now = timezone.now()
    token = secrets.token_hex(16)
    claimed = (
        MailboxState.objects.filter(pk=state.pk)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_token=token, lease_until=now + LEASE, updated_at=now)
    )
    return token if claimed == 1 else None


def _held(state: MailboxState, token: str) -> Q:
    return Q(pk=state.pk, lease_token=token)


def poll_mailbox(*, inbox_id: int) -> PollReport:
    """Read an email inbox's new mail once. Safe to call at any time, from any number of workers."""
    report = PollReport(inbox_id=inbox_id)
    inbox = Inbox.objects.filter(pk=inbox_id, kind=ChannelKind.EMAIL, is_active=True).first()
    if inbox is None:
        report.status = "not-configured"
        return report
    try:
        config = inbox.typed_config
    except ConfigError as exc:
        report.status, report.error = "not-configured", f"invalid config: {exc}"
        logger.warning("email inbox %s has an invalid config (%s); not polled", inbox.pk, exc)
        return report
    if not isinstance(config, EmailConfig) or not config.imap_host:
        report.status = "not-configured"
        return report
    state, _ = MailboxState.objects.get_or_create(inbox=inbox)
    token = _claim(state)
    if token is None:
        report.status = "busy"
        return report
    try:
        _poll(inbox, config, state, token, report)
    except MailboxError as exc:
        report.status, report.error = "error", str(exc)
        logger.warning("email inbox %s: %s", inbox.pk, exc)
    finally:
        now = timezone.now()
        MailboxState.objects.filter(_held(state, token)).update(
            lease_token="", lease_until=None, last_polled_at=now, last_error=report.error[:2000], updated_at=now
        )
    return report


def _poll(inbox: Inbox, config: EmailConfig, state: MailboxState, token: str, report: PollReport) -> None:
    password = str((inbox.credentials or {}).get("imap_password", ""))
    with imap_connection(config, password) as imap:
        uidvalidity = _select(imap, config.imap_folder)
        state.refresh_from_db()
        last_uid = state.last_uid
        if state.uidvalidity != uidvalidity:
            if state.uidvalidity is not None:
                logger.warning(
                    "email inbox %s: UIDVALIDITY of %s changed from %s to %s; reading the folder again",
                    inbox.pk,
                    config.imap_folder,
                    state.uidvalidity,
                    uidvalidity,
                )
                report.resynced = True
            last_uid = 0
            MailboxState.objects.filter(_held(state, token)).update(
                uidvalidity=uidvalidity, last_uid=0, failing_uid=None, failure_count=0
            )
        for uid in _new_uids(imap, last_uid)[:MAX_MESSAGES_PER_POLL]:
            raw = _fetch(imap, uid)
            stored = skipped = 0
            if raw is not None:
                source = {"folder": config.imap_folder, "uidvalidity": uidvalidity, "uid": uid}
                try:
                    outcome = receive_email(inbox=inbox, raw=raw, source=source)
                except Exception as exc:
                    _record_failure(inbox, state, token, uid, exc, report)
                    return  # the mail is read again next time (or skipped once it keeps failing)
                if outcome.status == "stored":
                    stored = 1
                elif outcome.status == "duplicate":
                    report.duplicates += 1
                else:
                    skipped = 1
                report.stored += stored
                report.skipped += skipped
            moved = MailboxState.objects.filter(_held(state, token), last_uid__lt=uid).update(
                last_uid=uid,
                failing_uid=None,
                failure_count=0,
                lease_until=timezone.now() + LEASE,
                messages_stored=F("messages_stored") + stored,
                messages_skipped=F("messages_skipped") + skipped,
                updated_at=timezone.now(),
            )
            if not moved:
                logger.warning("email inbox %s: lost the poll lease at UID %s; stopping", inbox.pk, uid)
                return


def _record_failure(
    inbox: Inbox, state: MailboxState, token: str, uid: int, exc: Exception, report: PollReport
) -> None:
    state.refresh_from_db(fields=["failing_uid", "failure_count"])
    count = state.failure_count + 1 if state.failing_uid == uid else 1
    report.status, report.error = "error", f"UID {uid}: {type(exc).__name__}: {exc}"
    if count >= MAX_FAILURES_PER_MESSAGE:
        logger.error(
            "email inbox %s: UID %s failed %s times (%s); skipping it", inbox.pk, uid, count, exc, exc_info=exc
        )
        MailboxState.objects.filter(_held(state, token), last_uid__lt=uid).update(
            last_uid=uid, failing_uid=None, failure_count=0, messages_skipped=F("messages_skipped") + 1
        )
        report.skipped += 1
        return
    logger.warning("email inbox %s: UID %s failed (%s); retrying next poll", inbox.pk, uid, exc, exc_info=exc)
    MailboxState.objects.filter(_held(state, token)).update(failing_uid=uid, failure_count=count)


def inboxes_due(now: datetime | None = None) -> list[int]:
    """Active email inboxes with an IMAP server whose poll interval has passed."""
    now = now or timezone.now()
    last_polled = dict(MailboxState.objects.values_list("inbox_id", "last_polled_at"))
    due: list[int] = []
    for inbox in Inbox.objects.filter(kind=ChannelKind.EMAIL, is_active=True).only("id", "kind", "config"):
        try:
            config = inbox.typed_config
        except ConfigError:
            logger.warning("email inbox %s has an invalid config; not polled", inbox.pk)
            continue
        if not isinstance(config, EmailConfig) or not config.imap_host:
            continue
        previous = last_polled.get(inbox.pk)
        if previous is None or previous + timedelta(seconds=max(config.poll_interval_seconds, 1)) <= now:
            due.append(inbox.pk)
    return due
