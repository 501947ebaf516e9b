"""Python's garbage collector in long-running processes: what a process loads at start is left out of it.

A web server or a worker holds 100,000 to 200,000 objects once it has started (modules, URL
patterns, models, serializers, the assistant's classifier). CPython's full collection walks every
one of them with the process stopped: 130 to 300 ms on the development machine, a dozen times a
minute under load at first. In a web server that stops every socket it serves; in the inbound
worker, every thread (bench.live with a ``gc.callbacks`` probe: the slowest live events, and the
slowest request of a page of the inbox list, were such collections).

:func:`settle` loads what is otherwise loaded by the first request, collects once, then freezes
(``gc.freeze()``): everything alive at that point moves to a permanent generation the collector
never walks again. What is made afterwards is collected as usual. Called as a web server's ASGI
application is built, and as each worker process is ready.
"""

from __future__ import annotations

import gc

from django.conf import settings


def settle() -> int:
    """Load the URLconf (and with it every view), collect, and freeze what is left; how many objects froze.

    Off (0) with ``GC_FREEZE_AT_START=false``, as in the test suite's processes, which are not servers.
    """
    if not settings.GC_FREEZE_AT_START:
        return 0
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view, serializer and form with their modules
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
