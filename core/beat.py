"""Beat that stays single: only the holder of a lease in the database sends periodic tasks.

Exactly one beat should run (the Procfile says so), but a second one started by mistake, or an
old one that was not stopped during a deploy, would send every periodic task twice per interval.
Each beat is a :class:`LeaderScheduler`: before each tick it takes or renews the ``beat`` lease
(a :class:`~core.models.BeatLease` row, taken with a conditional update: free, expired, or
already its own). The others wait and check again; when the holder dies its lease runs out and
one of them takes over.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from core.models import BeatLease

logger = logging.getLogger(__name__)

LEASE_NAME = "beat"


def hold_lease(holder: str, *, seconds: int | None = None, name: str = LEASE_NAME) -> bool:
    """Take or renew the lease for ``holder``; False when another live holder has it."""
    now = timezone.now()
    expires = now + timedelta(seconds=seconds or settings.BEAT_LEASE_SECONDS)
    taken = (
        BeatLease.objects.filter(name=name)
        .filter(Q(holder=holder) | Q(expires_at__lte=now))
        .update(holder=holder, expires_at=expires)
    )
    if taken:
        return True
    if BeatLease.objects.filter(name=name).exists():
        return False
    try:
        BeatLease.objects.create(name=name, holder=holder, expires_at=expires)
    except IntegrityError:  # another beat created it first
        return False
    return True


class LeaderScheduler(PersistentScheduler):
    """Celery's file-backed scheduler, ticking only while it holds the beat lease."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading = False
        self._renewed_at = 0.0
        super().__init__(*args, **kwargs)

    def _check_again(self) -> float:
        return max(1.0, settings.BEAT_LEASE_SECONDS / 3)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self.leading and time.monotonic() - self._renewed_at < self._check_again():
            return min(super().tick(*args, **kwargs), self._check_again())
        close_old_connections()
        try:
            leading = hold_lease(self.holder)
            self._renewed_at = time.monotonic()
        except DatabaseError as exc:  # the database restarting: wait, reconnect, and ask again
            logger.warning("beat could not reach the database for its lease: %s", exc)
            connection.close()
            leading = False
        if leading != self.leading:
            logger.info("beat %s %s the lease", self.holder, "holds" if leading else "does not hold")
            self.leading = leading
        if not leading:
            return self._check_again()
        return min(super().tick(*args, **kwargs), self._check_again())
