"""The product's ASGI application served by a real daphne, in a forked child process, for tests."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections


@contextlib.contextmanager
def daphne_serving(application: Callable[[], Any]) -> Iterator[str]:
    """Serve ``application()`` with daphne (``daphne.testing.DaphneProcess``); yield its http://host:port."""
    from daphne.testing import DaphneProcess

    # The child is forked with the test's settings (test database, Redis layer); it opens its own
    # connections. Pooled ones too: a pool kept open across the fork would hand the child this
    # process's sockets, and both would talk over one PostgreSQL connection at once.
    connections.close_all()
    for connection in connections.all():
        if getattr(connection, "pool", None) is not None:
            connection.close_pool()
    server = DaphneProcess("127.0.0.1", application)
    server.start()
    try:
        if not server.ready.wait(timeout=30):
            pytest.fail("the daphne server did not start within 30 s")
        yield f"http://127.0.0.1:{server.port.value}"
    finally:
        server.terminate()
        server.join(10)
