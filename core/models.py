from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """Written by the periodic heartbeat task: proof that beat and a worker are running."""

    name = models.CharField(max_length=100, unique=True)
    last_seen_at = models.DateTimeField()
    beats = models.PositiveBigIntegerField(default=0)
    hostname = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = "worker heartbeat"

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seen_at:%Y-%m-%d %H:%M:%S}"


def hash_token_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A REST API key. Only its sha256 is stored: the key itself is shown once, when issued.

    A key is a random secret, so a fast hash is enough (nothing to brute-force, unlike a password),
    and the lookup is one indexed equality on the hash.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the key is for, e.g. 'CRM sync'.")
    prefix = models.CharField(max_length=8, editable=False, help_text="The key's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="apitoken_user_idx")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    @classmethod
    def issue(cls, *, user: Any, name: str = "", expires_at: datetime | None = None) -> tuple[ApiToken, str]:
        """Create a token; return it with its key, which is never stored and cannot be shown again."""
        key = secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name[:100], prefix=key[:8], key_hash=hash_token_key(key), expires_at=expires_at
        )
        return token, key

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class OutboxState(models.TextChoices):
    PENDING = "pending", "Pending"  # written; published or about to be
    RUNNING = "running", "Running"  # a worker started it; its lease says until when
    DONE = "done", "Done"
    FAILED = "failed", "Failed"  # the task raised (its own retry policy gave up)
    DEAD = "dead", "Dead"  # kept killing its worker: dead-lettered, never run again


class OutboxEntry(models.Model):
    """Follow-up work, written in the transaction of the change that asks for it (see core/outbox.py)."""

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    dedup_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    state = models.CharField(max_length=10, choices=OutboxState.choices, default=OutboxState.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="Runs started.")
    interrupted = models.PositiveIntegerField(default=0, help_text="Runs that never finished (worker killed).")
    lease_seconds = models.PositiveIntegerField(default=300)
    available_at = models.DateTimeField(
        default=timezone.now, help_text="When the sweep may publish it (again): a run's lease ends here."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = "outbox entry"
        verbose_name_plural = "outbox"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["available_at"],
                name="outbox_open_idx",
                condition=models.Q(state__in=["pending", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name}{tuple(self.args)!r} ({self.state})"


class BeatLease(models.Model):
    """Which beat process may send periodic tasks: one holder at a time, renewed while it lives (core/beat.py)."""

    name = models.CharField(max_length=100, unique=True)
    holder = models.CharField(max_length=200)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "beat lease"

    def __str__(self) -> str:
        return f"{self.name}: {self.holder} until {self.expires_at:%H:%M:%S}"
