"""``manage.py bench_data``: a fresh PostgreSQL database filled with a support history at scale.

``manage.py bench_data --conversations 1000000 --messages 10000000 --contacts 200000
--database-name inbox_bench`` drops and re-creates ``inbox_bench`` on the configured PostgreSQL
server, migrates it and streams the history in with COPY (see bench/datagen.py). The database
named is separate from the product's own: nothing else is touched.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from psycopg import sql
from psycopg.conninfo import make_conninfo


class Command(BaseCommand):
    help = "Create a PostgreSQL database full of conversations, messages and contacts for the benchmarks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--conversations", type=int, default=1_000_000)
        parser.add_argument("--messages", type=int, default=10_000_000)
        parser.add_argument("--contacts", type=int, default=200_000)
        parser.add_argument(
            "--database-name",
            default="inbox_bench",
            help="Database to (re)create on the configured PostgreSQL server (default inbox_bench).",
        )
        parser.add_argument("--seed", type=int, default=20261121, help="Same seed, same data.")

    def handle(self, *args: Any, **options: Any) -> None:
        from bench.datagen import Sizes, generate

        if not settings.IS_POSTGRES:
            raise CommandError("bench_data needs PostgreSQL: set DATABASE_URL (any database on the server).")
        sizes = Sizes(options["conversations"], options["messages"], options["contacts"])
        if min(sizes.conversations, sizes.contacts) < 1 or sizes.messages < sizes.conversations:
            raise CommandError("Need at least one contact and conversation, and a message per conversation.")
        name = options["database_name"]
        if not name or name == "postgres" or name.startswith("template"):
            raise CommandError(f"Refusing to recreate the database {name!r}.")

        started = time.monotonic()
        self._recreate(name)
        self.stdout.write(f"database {name}: migrating")
        call_command("migrate", verbosity=0, interactive=False)
        self.stdout.write(
            f"database {name}: {sizes.conversations} conversations, {sizes.messages} messages, "
            f"{sizes.contacts} contacts"
        )
        timings = generate(sizes, seed=options["seed"], log=lambda line: self.stdout.write(line, ending="\n"))
        self.stdout.write(
            self.style.SUCCESS(
                f"done in {time.monotonic() - started:.0f} s "
                f"(streaming {timings['history']:.0f} s, "
                f"indexes, documents, keys and vacuum {timings['post_load']:.0f} s)"
            )
        )

    def _recreate(self, name: str) -> None:
        """Drop and create ``name``, then point the default connection at it."""
        connection = connections["default"]
        connection.close()
        params = connection.settings_dict
        server = {
            "dbname": "postgres",
            "user": params["USER"] or None,
            "password": params["PASSWORD"] or None,
            "host": params["HOST"] or None,
            "port": params["PORT"] or None,
        }
        conninfo = make_conninfo(**{key: value for key, value in server.items() if value is not None})
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        settings.DATABASES["default"]["NAME"] = name
        connection.settings_dict["NAME"] = name
