"""``manage.py rebuild_view_counts [--check]``: recount the inbox views' counters, or only compare them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations import view_counts


class Command(BaseCommand):
    help = "Recount the inbox views' maintained counters from the conversations (PostgreSQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Only compare; exit 1 if they disagree.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.IS_POSTGRES:
            raise CommandError("The counters are kept on PostgreSQL only; elsewhere the counts are computed.")
        if options["check"]:
            wrong = view_counts.differences()
            for key, kept, fresh in wrong:
                self.stdout.write(f"{key}: counter {kept}, conversations {fresh}")
            if wrong:
                raise CommandError(f"{len(wrong)} counters disagree with the conversations.")
            self.stdout.write("The counters agree with the conversations.")
            return
        view_counts.rebuild()
        self.stdout.write("Recounted.")
