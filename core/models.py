from __future__ import annotations

from django.db import models


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
