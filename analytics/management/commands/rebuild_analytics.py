"""Rebuild every metric fact and daily rollup from the conversation events."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from analytics import recorder


class Command(BaseCommand):
    help = "Rebuild analytics (metric facts and daily rollups) from conversation events. Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        conversations, days = recorder.rebuild()
        self.stdout.write(f"Rebuilt analytics from the events of {conversations} conversations over {days} days.")
