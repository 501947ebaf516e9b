"""What the poller remembers about each mailbox between runs."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from conversations.models import Inbox


class MailboxState(models.Model):
    """IMAP bookkeeping for one email inbox, and the lease that lets one poller at a time read it.

    ``last_uid`` only moves after the message with that UID is committed, so a poller that
    dies between fetching and storing reads the message again; the Message-ID (unique per
    inbox) makes that second read a no-op. When the server's UIDVALIDITY changes, UIDs mean
    nothing any more: the folder is read again from the start, deduplicated the same way.
    """

    inbox = models.OneToOneField(Inbox, on_delete=models.CASCADE, related_name="mailbox_state")
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    # The lease: a poller owns the mailbox while lease_until is in the future and the token is its own.
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # A mail that fails to store on every poll must not block the mailbox for ever: after a few
    # tries it is skipped (and logged) so the mail behind it gets in.
    failing_uid = models.BigIntegerField(null=True, blank=True)
    failure_count = models.PositiveSmallIntegerField(default=0)
    messages_stored = models.PositiveBigIntegerField(default=0)
    messages_skipped = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "mailbox state"

    def __str__(self) -> str:
        return f"{self.inbox_id}: uidvalidity {self.uidvalidity}, last uid {self.last_uid}"
