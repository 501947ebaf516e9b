"""``manage.py seed_demo``: the demo company, its two months of history and its logins."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from conversations import demo


class Command(BaseCommand):
    help = (
        "Create a demo company (inboxes of every kind, teams, agents, ~200 contacts and two months of "
        "conversations) once, and print the demo logins. Safe to run again: it only makes sure the logins work."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = demo.seed_demo()
        self.stdout.write(self.style.SUCCESS(report.message) if report.created else report.message)
        if report.passwords_reset:
            self.stdout.write(f"The login file was missing, so new demo passwords were written to {report.login_file}")
        if report.logins:
            self.stdout.write(f"Demo logins (also in {report.login_file}):")
            for login in report.logins:
                self.stdout.write(f"  {login.line}")
