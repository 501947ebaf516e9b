"""A paginator for the big tables, whose exact row count is too slow to take on every page.

``SELECT COUNT(*)`` on PostgreSQL reads the whole table (or a whole index), so an admin changelist of
millions of messages would spend most of its time counting. When the list is the whole table, the
planner's own estimate (``pg_class.reltuples``, kept fresh by autovacuum's ANALYZE) is close enough
to draw the page links. Anything filtered, and anything small, is counted for real; so is every
list on SQLite, which has no such estimate.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.db.models.sql import Query
from django.utils.functional import cached_property

# Below this many rows a real count is quick, and exact is better than close.
DEFAULT_ESTIMATE_ABOVE = 100_000


def is_whole_table(query: Query) -> bool:
    """Whether the query returns every row of its table once, so the table's row estimate is its count."""
    return not (
        query.where or query.distinct or query.is_sliced or query.combinator or query.group_by or query.extra_tables
    )


def planner_row_estimate(queryset: QuerySet[Any]) -> int | None:
    """The planner's estimate of the rows in ``queryset``'s table, or None where there is none.

    None on databases other than PostgreSQL and for a table never analyzed (``reltuples`` is -1).
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
    if row is None or row[0] is None or row[0] < 0:
        return None
    return int(row[0])


class EstimatedCountPaginator(Paginator):
    """Counts an unfiltered, large queryset with the planner's estimate; everything else exactly."""

    estimate_above: int = DEFAULT_ESTIMATE_ABOVE

    @cached_property
    def count(self) -> int:
        object_list: Any = self.object_list
        if isinstance(object_list, QuerySet):
            if is_whole_table(object_list.query):
                estimate = planner_row_estimate(object_list)
                if estimate is not None and estimate >= self.estimate_above:
                    return estimate
            return object_list.count()
        return len(object_list)
