"""Inbound email by IMAP polling, against a real Dovecot started by the tests."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from channels_app.email import poller
from channels_app.email.models import MailboxState
from channels_app.email.tasks import poll_mailbox, poll_mailboxes
from conversations.models import Message
from tests import factories as f
from tests.fakes.mail_servers import Dovecot, dovecot_fixture, dovecot_server_fixture, fixture_eml

dovecot_server = pytest.fixture(scope="module")(dovecot_server_fixture)
dovecot = pytest.fixture(dovecot_fixture)

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "eml"


def mail(n: int, *, sender: str = "carol@example.com", subject: str = "Help") -> bytes:
    return (
        f"From: Carol <{sender}>\r\nTo: support@example.com\r\nSubject: {subject} {n}\r\n"
        f"Message-ID: <mail-{n}@example.com>\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\nBody {n}\r\n"
    ).encode()


def _inbox(dovecot: Dovecot, **config: Any) -> Any:
    return f.InboxFactory(
        name="Support mail",
        kind="email",
        config={
            "address": "support@example.com",
            "imap_host": "127.0.0.1",
            "imap_port": dovecot.port,
            "imap_use_ssl": False,
            "imap_username": dovecot.user,
            **config,
        },
        credentials={"imap_password": dovecot.password},
    )


@pytest.fixture
def mailbox(db: Any, dovecot: Dovecot) -> Any:
    return _inbox(dovecot)


def stored(inbox: Any) -> list[str]:
    return list(Message.objects.filter(inbox=inbox).order_by("id").values_list("channel_message_id", flat=True))


def test_poll_stores_new_mail_once(mailbox: Any, dovecot: Dovecot) -> None:
    dovecot.append(mail(1))
    dovecot.append(mail(2))

    first = poller.poll_mailbox(inbox_id=mailbox.pk)
    second = poller.poll_mailbox(inbox_id=mailbox.pk)

    assert (first.status, first.stored, second.stored, second.duplicates) == ("ok", 2, 0, 0)
    assert stored(mailbox) == ["<mail-1@example.com>", "<mail-2@example.com>"]
    state = MailboxState.objects.get(inbox=mailbox)
    assert (state.last_uid, state.uidvalidity) == (2, dovecot.uidvalidity())
    assert state.lease_until is None and state.last_polled_at is not None


def test_mail_arriving_later_is_read_on_the_next_poll(mailbox: Any, dovecot: Dovecot) -> None:
    dovecot.append(mail(1))
    poller.poll_mailbox(inbox_id=mailbox.pk)
    dovecot.append(mail(2))

    report = poller.poll_mailbox(inbox_id=mailbox.pk)

    assert report.stored == 1
    assert stored(mailbox)[-1] == "<mail-2@example.com>"


def test_polling_does_not_mark_mail_as_read(mailbox: Any, dovecot: Dovecot) -> None:
    dovecot.append(mail(1))
    poller.poll_mailbox(inbox_id=mailbox.pk)

    imap = dovecot.client()
    imap.select("INBOX")
    _, data = imap.uid("FETCH", "1", "(FLAGS)")
    imap.logout()
    assert b"\\Seen" not in data[0]


def test_crash_after_commit_before_bookkeeping_repolls_without_duplicate(
    mailbox: Any, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(mail(1))
    real_receive = poller.receive_email

    def store_then_die(**kwargs: Any) -> Any:
        real_receive(**kwargs)
        raise RuntimeError("worker killed after the commit")

    monkeypatch.setattr(poller, "receive_email", store_then_die)
    crashed = poller.poll_mailbox(inbox_id=mailbox.pk)
    monkeypatch.setattr(poller, "receive_email", real_receive)
    again = poller.poll_mailbox(inbox_id=mailbox.pk)

    assert crashed.status == "error" and MailboxState.objects.get(inbox=mailbox).last_uid == 1
    assert (again.stored, again.duplicates) == (0, 1)
    assert stored(mailbox) == ["<mail-1@example.com>"]


def test_crash_before_commit_stores_the_mail_on_the_next_poll(
    mailbox: Any, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(mail(1))
    dovecot.append(mail(2))
    real_receive = poller.receive_email

    def die_on_second(**kwargs: Any) -> Any:
        if b"mail-2@" in kwargs["raw"]:
            raise RuntimeError("database went away")
        return real_receive(**kwargs)

    monkeypatch.setattr(poller, "receive_email", die_on_second)
    crashed = poller.poll_mailbox(inbox_id=mailbox.pk)
    assert (crashed.status, crashed.stored, MailboxState.objects.get(inbox=mailbox).last_uid) == ("error", 1, 1)
    monkeypatch.setattr(poller, "receive_email", real_receive)

    again = poller.poll_mailbox(inbox_id=mailbox.pk)

    assert (again.status, again.stored) == ("ok", 1)
    assert stored(mailbox) == ["<mail-1@example.com>", "<mail-2@example.com>"]


def test_a_mail_that_always_fails_is_skipped_after_three_polls(
    mailbox: Any, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    dovecot.append(mail(1))
    dovecot.append(mail(2))
    real_receive = poller.receive_email

    def poison(**kwargs: Any) -> Any:
        if b"mail-1@" in kwargs["raw"]:
            raise ValueError("cannot store this one")
        return real_receive(**kwargs)

    monkeypatch.setattr(poller, "receive_email", poison)
    reports = [poller.poll_mailbox(inbox_id=mailbox.pk) for _ in range(4)]

    assert [r.stored for r in reports] == [0, 0, 0, 1]
    assert stored(mailbox) == ["<mail-2@example.com>"]
    assert MailboxState.objects.get(inbox=mailbox).messages_skipped == 1
    assert "UID 1 failed 3 times" in caplog.text


def test_uidvalidity_change_rereads_the_folder_without_duplicates(mailbox: Any, dovecot: Dovecot) -> None:
    dovecot.append(mail(1))
    dovecot.append(mail(2))
    poller.poll_mailbox(inbox_id=mailbox.pk)
    new_validity = dovecot.change_uidvalidity()
    dovecot.append(mail(3))

    report = poller.poll_mailbox(inbox_id=mailbox.pk)

    assert report.resynced
    assert (report.stored, report.duplicates) == (1, 2)
    assert stored(mailbox) == [f"<mail-{n}@example.com>" for n in (1, 2, 3)]
    assert MailboxState.objects.get(inbox=mailbox).uidvalidity == new_validity


def test_a_poll_is_refused_while_another_poller_holds_the_mailbox(mailbox: Any, dovecot: Dovecot) -> None:
    dovecot.append(mail(1))
    MailboxState.objects.create(
        inbox=mailbox, lease_token="other-worker", lease_until=timezone.now() + timedelta(minutes=1)
    )

    report = poller.poll_mailbox(inbox_id=mailbox.pk)

    assert report.status == "busy"
    assert stored(mailbox) == []
    assert MailboxState.objects.get(inbox=mailbox).lease_token == "other-worker"


def test_an_expired_lease_of_a_dead_poller_is_taken_over(mailbox: Any, dovecot: Dovecot) -> None:
    dovecot.append(mail(1))
    MailboxState.objects.create(
        inbox=mailbox, lease_token="dead-worker", lease_until=timezone.now() - timedelta(seconds=1)
    )

    assert poller.poll_mailbox(inbox_id=mailbox.pk).stored == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_polls_store_each_mail_once(dovecot: Dovecot) -> None:
    inbox = _inbox(dovecot)
    for n in range(1, 9):
        dovecot.append(mail(n, sender=f"customer{n}@example.com"))
    reports: list[poller.PollReport] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            barrier.wait()
            reports.append(poller.poll_mailbox(inbox_id=inbox.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(r.stored for r in reports) == 8
    assert Message.objects.filter(inbox=inbox).count() == 8
    assert all(r.status in ("ok", "busy") for r in reports)


def test_missing_folder_is_recorded_not_raised(db: Any, dovecot: Dovecot) -> None:
    inbox = _inbox(dovecot, imap_folder="Does not exist")

    report = poller.poll_mailbox(inbox_id=inbox.pk)

    assert report.status == "error" and "cannot open folder" in report.error


def test_a_configured_folder_other_than_inbox_is_read(db: Any, dovecot: Dovecot) -> None:
    dovecot.create_folder("Support Requests")
    dovecot.append(mail(1), folder="Support Requests")
    dovecot.append(mail(2))  # INBOX: not this inbox's folder
    inbox = _inbox(dovecot, imap_folder="Support Requests")

    poller.poll_mailbox(inbox_id=inbox.pk)

    assert stored(inbox) == ["<mail-1@example.com>"]


def test_whole_corpus_through_imap_never_breaks_the_poller(mailbox: Any, dovecot: Dovecot, settings: Any) -> None:
    settings.MAX_ATTACHMENT_BYTES = 20_000
    names = sorted(p.name for p in CORPUS.glob("*.eml"))
    for name in names:
        dovecot.append(fixture_eml(name, OUR_MESSAGE_ID="<unknown@example.com>"))

    report = poller.poll_mailbox(inbox_id=mailbox.pk)

    # Every mail is stored except our own (a loop); the two replies share their quoted Message-ID only.
    assert report.status == "ok"
    assert (report.stored, report.skipped) == (len(names) - 1, 1)
    assert MailboxState.objects.get(inbox=mailbox).last_uid == len(names)


# --- The beat task ------------------------------------------------------------------------------


def test_beat_task_polls_due_mailboxes_and_skips_others(db: Any, dovecot: Dovecot) -> None:
    due = _inbox(dovecot)
    recently_polled = _inbox(dovecot, poll_interval_seconds=3600)
    MailboxState.objects.create(inbox=recently_polled, last_polled_at=timezone.now())
    f.InboxFactory(kind="email", config={"address": "noimap@example.com"})  # sends only
    inactive = _inbox(dovecot)
    inactive.is_active = False
    inactive.save()
    dovecot.append(mail(1))

    polled = poll_mailboxes()  # Celery runs eagerly in tests: each queued poll runs at once

    assert polled == [due.pk]
    assert stored(due) == ["<mail-1@example.com>"]
    assert stored(recently_polled) == []


def test_poll_task_reports_what_it_did(mailbox: Any, dovecot: Dovecot) -> None:
    dovecot.append(mail(1))

    result = poll_mailbox.delay(mailbox.pk).get()

    assert result["stored"] == 1 and result["status"] == "ok"


def test_poll_task_for_a_non_email_inbox_does_nothing(db: Any) -> None:
    inbox = f.InboxFactory(kind="webchat")

    assert poll_mailbox.delay(inbox.pk).get()["status"] == "not-configured"


# Last in the module: Dovecot slows down logins from an address after a failed one.
def test_wrong_password_is_recorded_not_raised(db: Any, dovecot: Dovecot) -> None:
    inbox = _inbox(dovecot)
    inbox.credentials = {"imap_password": "wrong"}
    inbox.save()

    report = poller.poll_mailbox(inbox_id=inbox.pk)

    assert report.status == "error" and "cannot log in" in report.error
    state = MailboxState.objects.get(inbox=inbox)
    assert "cannot log in" in state.last_error and state.lease_until is None
