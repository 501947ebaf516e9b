"""SQL that migrations run on PostgreSQL only (triggers and functions that SQLite, in embedded mode, goes without)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def postgresql_only(sql: str) -> Callable[[Any, Any], None]:
    """A ``RunPython`` operation that executes ``sql`` on PostgreSQL and does nothing elsewhere."""

    def operation(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return operation
