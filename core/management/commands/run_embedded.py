"""``manage.py run_embedded``: the whole product in one process (see core/embedded.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import embedded
from core.checks import integration_status
from inbox_project.celery import app as celery_app

ALL_INTERFACES = {"0.0.0.0", "::", "[::]"}  # noqa: S104  (a value to recognise, not to bind)


def _url_host(host: str) -> str:
    if host in ALL_INTERFACES:
        return "127.0.0.1"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


class Command(BaseCommand):
    help = (
        "Start the whole product in one process (embedded mode): SQLite, the web server with "
        "websockets, and Celery's worker and beat on an in-memory broker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on (default 8000; 0 picks one).")
        parser.add_argument(
            "--concurrency", type=int, default=4, help="Worker threads running Celery tasks (default 4)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 <= options["port"] <= 65535:
            raise CommandError(f"--port must be between 0 and 65535, got {options['port']}")
        if options["concurrency"] < 1:
            raise CommandError(f"--concurrency must be at least 1, got {options['concurrency']}")
        try:
            embedded.check_embedded_configuration()
        except embedded.EmbeddedModeError as exc:
            raise CommandError(str(exc)) from None
        self.check_migrations()
        try:
            outcome = embedded.serve(
                celery_app,
                host=options["host"],
                port=options["port"],
                concurrency=options["concurrency"],
                on_ready=self.announce,
                verbosity=options["verbosity"],
            )
        except embedded.EmbeddedModeError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("Stopped.")
        self.stdout.flush()
        if not outcome.clean:
            sys.stderr.flush()
            os._exit(outcome.exit_code or 1)
        if outcome.exit_code:
            sys.exit(outcome.exit_code)

    def announce(self, host: str, port: int) -> None:
        base = f"http://{_url_host(host)}:{port}"
        lines = [
            "",
            self.style.SUCCESS("The inbox is running in embedded mode (SQLite, in-process worker and beat)."),
            f"  Agent inbox:  {base}/inbox/",
            f"  Analytics:    {base}/analytics/",
            f"  Back office:  {base}/admin/",
            f"  Health:       {base}/healthz/",
            f"  Database:     {settings.DATABASES['default']['NAME']}",
        ]
        if host in ALL_INTERFACES:
            lines.append(f"  Listening on all interfaces ({host}); other hosts need ALLOWED_HOSTS.")
        logins = Path(settings.VAR_DIR) / "demo-logins.txt"
        if logins.is_file():
            lines += ["", f"Demo logins ({logins}):"]
            lines += [f"  {line}" for line in logins.read_text().splitlines() if line.strip()]
        status = integration_status()
        if status:
            lines += ["", "Not configured (optional):"]
            lines += [f"  - {message.msg} {message.hint or ''}".rstrip() for message in status]
        lines += ["", "Quit with CONTROL-C.", ""]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
