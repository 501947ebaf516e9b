"""Fill a PostgreSQL database with a support history at scale, fast, the way the services would have.

Configuration (teams, agents, inboxes, tags) is made with the ORM. Contacts, identities,
conversations, messages and conversation events are streamed with COPY (psycopg 3), several
streams at once, after dropping the big tables' secondary indexes and foreign keys; both are put
back afterwards (building an index once is far cheaper than maintaining it per row, and re-adding a
foreign key validates it with one join). The search-vector triggers of migration 0003 stay on, so
full-text columns are exactly what a service write produces.

Every conversation is made as a timeline first (messages in time order, replies, handoff,
assignment, status changes) and its row is derived from it, so the denormalized fields agree with
the messages (last message, preview, direction, sender, counts, first response, waiting since,
last inbound) and every change has its event, as the services record them. Open conversations are
consistent with the timers having run: an active one had a message in the last hour, a resolved one
was resolved in the last week (older ones are archived), so an auto-status sweep finds nothing due.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.utils import timezone
from psycopg.types.json import Jsonb

from bench.text import CITIES, FIRST_NAMES, LAST_NAMES, TextMaker
from conversations.models import (
    AgentProfile,
    AssignmentStrategy,
    Availability,
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    ConversationEvent,
    DeliveryStatus,
    Direction,
    EventKind,
    Handler,
    Inbox,
    Message,
    Priority,
    SenderKind,
    Status,
    Tag,
    Team,
)

SPAN_DAYS = 365
BENCH_PASSWORD = "bench-password-" + "k3Q" * 4
SUPERVISOR = "bench_supervisor"
AGENT = "agent01"  # the agent whose views the inbox benchmark opens

INBOXES: tuple[tuple[str, str, bool], ...] = (
    # name, kind, assistant on
    ("Support SMS", ChannelKind.SMS, True),
    ("Sales SMS", ChannelKind.SMS, False),
    ("WhatsApp", ChannelKind.WHATSAPP, True),
    ("Support email", ChannelKind.EMAIL, False),
    ("Billing email", ChannelKind.EMAIL, False),
    ("Website chat", ChannelKind.WEBCHAT, True),
    ("Store chat", ChannelKind.WEBCHAT, True),
    ("Partner API", ChannelKind.API, False),
)
INBOX_WEIGHTS = (20, 5, 15, 20, 8, 20, 8, 4)
TEAM_NAMES = ("Support", "Billing", "Hardware", "Logistics", "Integrations")
TAG_NAMES = (
    "refund",
    "vip",
    "bug",
    "feature-request",
    "shipping",
    "billing",
    "hardware",
    "onboarding",
    "churn-risk",
    "follow-up",
    "needs review",
    "warranty",
    "fraud",
    "api",
    "duplicate",
    "escalated",
    "spam",
    "feedback",
    "payouts",
    "login",
)
AGENTS = 40
PRIORITIES = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)
PRIORITY_WEIGHTS = (15, 70, 10, 5)
LANGUAGES = ("en",) * 8 + ("es", "fr", "de", "pt")
SEGMENTS = ("",) * 70 + ("vip",) * 3 + ("enterprise",) * 10 + ("trial",) * 17
# The big tables whose secondary indexes and foreign keys are dropped during the load.
BULK_TABLES = (
    "conversations_conversation",
    "conversations_conversation_tags",
    "conversations_message",
    "conversations_conversationevent",
)

# Triggers that maintain derived data row by row: paused during the load, their result computed once
# after it (the search-vector triggers of messages and contacts stay on).
DEFERRED_TRIGGERS = (
    ("conversations_conversation", "inbox_open_count_insert_trg"),
    ("conversations_conversation", "inbox_open_count_update_trg"),
    ("conversations_conversation", "inbox_open_count_delete_trg"),
    ("conversations_conversation", "inbox_conversation_search_trg"),
    ("conversations_message", "inbox_message_search_added_trg"),
)
# Conversations per statement when the search documents are computed after the load.
DOCUMENT_BATCH = 50_000


@dataclasses.dataclass(frozen=True)
class Sizes:
    conversations: int
    messages: int
    contacts: int


@dataclasses.dataclass
class Config:
    """Ids of what the ORM made, which the streamed rows refer to."""

    inboxes: list[tuple[int, str, bool, int, list[int]]]  # id, kind, assistant on, team id, member ids
    tags: list[int]
    supervisor: int


Log = Callable[[str], None]


# --- Configuration (small: the ORM) -------------------------------------------------------------


def make_config(rng: random.Random) -> Config:
    User = get_user_model()
    password = make_password(BENCH_PASSWORD)
    supervisor = User.objects.create(
        username=SUPERVISOR, email="supervisor@bench.example", is_staff=True, password=password
    )
    teams = [
        Team.objects.create(name=name, assignment_strategy=AssignmentStrategy.CAPACITY, created_at=timezone.now())
        for name in TEAM_NAMES
    ]
    agents = []
    for n in range(1, AGENTS + 1):
        first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[(n * 7) % len(LAST_NAMES)]
        user = User.objects.create(
            username=f"agent{n:02d}",
            email=f"agent{n:02d}@bench.example",
            first_name=first,
            last_name=last,
            password=password,
        )
        profile = AgentProfile.objects.create(
            user=user, availability=Availability.ONLINE if n % 3 else Availability.OFFLINE, capacity=20
        )
        profile.teams.add(teams[n % len(teams)])
        agents.append(user)
    inboxes = []
    for index, (name, kind, assistant) in enumerate(INBOXES):
        config: dict[str, Any] = {}
        if kind in (ChannelKind.SMS, ChannelKind.WHATSAPP):
            config = {"phone_number": f"+1415555{index:04d}"}
        elif kind == ChannelKind.EMAIL:
            config = {"address": f"help{index}@bench.example"}
        team = teams[index % len(teams)]
        inbox = Inbox.objects.create(
            name=name, kind=kind, config=config, assistant_enabled=assistant, default_team=team
        )
        # Each agent answers three inboxes; agent01 answers the two busiest.
        members = [a for i, a in enumerate(agents) if i % len(INBOXES) in (index, (index + 3) % 8, (index + 5) % 8)]
        if index in (0, 3) and agents[0] not in members:
            members.append(agents[0])
        inbox.members.set(members)
        inboxes.append((inbox.pk, kind, assistant, team.pk, [m.pk for m in members]))
    tags = [Tag.objects.create(name=name).pk for name in TAG_NAMES]
    return Config(inboxes=inboxes, tags=tags, supervisor=supervisor.pk)


# --- Bulk-load plumbing -----------------------------------------------------------------------


def _conninfo() -> dict[str, Any]:
    settings = connection.settings_dict
    info = {
        "dbname": settings["NAME"],
        "user": settings["USER"] or None,
        "password": settings["PASSWORD"] or None,
        "host": settings["HOST"] or None,
        "port": settings["PORT"] or None,
    }
    return {key: value for key, value in info.items() if value is not None}


def _drop_secondary(cur: psycopg.Cursor[Any]) -> tuple[list[str], list[str]]:
    """Drop the bulk tables' foreign keys and non-constraint indexes; return the SQL that restores them."""
    cur.execute(
        """
        SELECT format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s',
                      rel.relname, con.conname, pg_get_constraintdef(con.oid)),
               format('ALTER TABLE %%I DROP CONSTRAINT %%I', rel.relname, con.conname)
        FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
        WHERE con.contype = 'f' AND rel.relname = ANY(%s)
        """,
        [list(BULK_TABLES)],
    )
    foreign_keys = cur.fetchall()
    cur.execute(
        """
        SELECT i.indexdef, format('DROP INDEX %%I', i.indexname)
        FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        [list(BULK_TABLES)],
    )
    indexes = cur.fetchall()
    for _restore, drop in foreign_keys + indexes:
        cur.execute(drop)
    return [restore for restore, _drop in indexes], [restore for restore, _drop in foreign_keys]


def _missing_columns(model: Any, given: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """Columns this loader does not know (added by a later migration), with their model defaults."""
    names, values = [], []
    for field in model._meta.concrete_fields:
        if field.column in given:
            continue
        names.append(field.column)
        default = field.get_default() if field.has_default() else None
        if default is None and not field.null and field.empty_strings_allowed:
            default = ""
        value = field.get_db_prep_save(default, connection)
        if isinstance(default, dict | list):
            value = Jsonb(default)
        values.append(value)
    return tuple(names), tuple(values)


class Stream:
    """A COPY into one table, on its own connection unless given one (then the caller commits)."""

    def __init__(
        self, table: str, model: Any, columns: tuple[str, ...], conn: psycopg.Connection[Any] | None = None
    ) -> None:
        extra_names, self.extra = _missing_columns(model, columns) if model is not None else ((), ())
        self.columns = columns + extra_names
        self.table = table
        self.rows = 0
        self.own = conn is None
        self.conn = conn or psycopg.connect(**_conninfo())
        self.conn.execute("SET synchronous_commit = off")
        self.cursor = self.conn.cursor()
        self.copy_cm = self.cursor.copy(f"COPY {table} ({', '.join(self.columns)}) FROM STDIN")
        self.copy = self.copy_cm.__enter__()

    def write(self, row: tuple[Any, ...]) -> None:
        self.copy.write_row(row + self.extra if self.extra else row)
        self.rows += 1

    def close(self) -> None:
        self.copy_cm.__exit__(None, None, None)
        if self.own:
            self.conn.commit()
            self.conn.close()


@contextmanager
def _streams(*specs: tuple[str, Any, tuple[str, ...]]) -> Iterator[list[Stream]]:
    streams = [Stream(*spec) for spec in specs]
    try:
        yield streams
    finally:
        # Closing waits for each server to finish its COPY; do it in parallel.
        threads = [threading.Thread(target=stream.close) for stream in streams]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


@dataclasses.dataclass
class Job:
    """Statements run in order on one connection, once every job named in ``after`` has finished."""

    name: str
    statements: list[str]
    after: frozenset[str] = frozenset()
    seconds: float = 0.0


def _run_jobs(jobs: list[Job], *, workers: int) -> None:
    """Run ``jobs`` on ``workers`` connections, each taking the first job (in list order) that is ready.

    The post-load work is a few long single-threaded statements (index builds, the search documents'
    GIN index, validating foreign keys, vacuum): run in phases, one core idled whenever a phase had
    one statement left. Scheduled by what each needs, both cores stay busy until the end.
    """
    pending = list(jobs)
    done: set[str] = set()
    condition = threading.Condition()
    failures: list[BaseException] = []

    def take() -> Job | None:
        with condition:
            while True:
                if failures or not pending:
                    return None
                for job in pending:
                    if job.after <= done:
                        pending.remove(job)
                        return job
                condition.wait()

    def work() -> None:
        with psycopg.connect(**_conninfo(), autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute("SET max_parallel_maintenance_workers = 0")
            while (job := take()) is not None:
                started = time.monotonic()
                try:
                    for statement in job.statements:
                        conn.execute(statement)
                except BaseException as exc:
                    with condition:
                        failures.append(exc)
                        condition.notify_all()
                    return
                job.seconds = time.monotonic() - started
                with condition:
                    done.add(job.name)
                    condition.notify_all()

    unknown = {name for job in jobs for name in job.after} - {job.name for job in jobs}
    if unknown:
        raise ValueError(f"jobs wait for unknown jobs: {sorted(unknown)}")
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    if pending:
        raise RuntimeError(f"jobs never became ready: {[job.name for job in pending]}")


def _post_load_jobs(
    index_sql: list[str], fk_sql: list[str], document_index_sql: list[str], conversations: int, tables: list[str]
) -> list[Job]:
    """Indexes, search documents, foreign keys, counters and vacuum, each after what it needs."""
    indexes = [Job(f"index {n}", [statement]) for n, statement in enumerate(index_sql)]
    # The longest builds first (the messages' full-text GIN index), then the btrees on a message's
    # conversation, which the search documents read their messages through.
    indexes.sort(key=lambda job: ("gin" not in job.statements[0].lower(), not _is_thread_index(job.statements[0])))
    threads = frozenset(job.name for job in indexes if _is_thread_index(job.statements[0]))
    all_indexes = frozenset(job.name for job in indexes)
    fills = [
        Job(f"documents {low}", [f"SELECT inbox_conversation_documents_fill({low}, {low + DOCUMENT_BATCH})"], threads)
        for low in range(1, conversations + 1, DOCUMENT_BATCH)
    ]
    all_fills = frozenset(job.name for job in fills)
    # One GIN build, given the memory to sort all its entries at once rather than merge in passes.
    document_index = Job(
        "documents index",
        ["SET maintenance_work_mem = '1GB'", *document_index_sql, "SET maintenance_work_mem = '512MB'"],
        all_fills,
    )
    # Enabling a trigger and adding a foreign key lock the tables against index builds: after them.
    constraints = Job(
        "foreign keys and counters",
        [
            *(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}" for table, trigger in DEFERRED_TRIGGERS),
            # What the paused triggers would have maintained row by row, computed once from the loaded rows.
            "SELECT inbox_open_counts_rebuild()",
            *fk_sql,
        ],
        all_indexes,
    )
    # Visibility map and statistics, as autovacuum would leave a table that has settled: the big
    # tables as soon as they are complete, beside the documents' index build.
    everything = frozenset(job.name for job in [*indexes, *fills, document_index, constraints])
    vacuums = [
        Job(
            "vacuum messages", ["VACUUM (ANALYZE) conversations_message"], all_indexes | all_fills | {constraints.name}
        ),
        Job("vacuum events", ["VACUUM (ANALYZE) conversations_conversationevent"], all_indexes | {constraints.name}),
    ]
    rest = [t for t in tables if t not in ("conversations_message", "conversations_conversationevent")]
    vacuums.append(Job("vacuum the rest", [f"VACUUM (ANALYZE) {', '.join(rest)}"], everything))
    return [*indexes, *fills, constraints, document_index, *vacuums]


def _is_thread_index(statement: str) -> bool:
    return "on public.conversations_message using btree (conversation_id" in statement.lower()


# --- The history ------------------------------------------------------------------------------


def _message_counts(rng: random.Random, conversations: int, messages: int) -> list[int]:
    """Messages per conversation: long-tailed (most are short, a few are long), summing to ``messages``."""
    mean = messages / conversations
    counts = [max(1, round(rng.lognormvariate(math.log(mean) - 0.32, 0.8))) for _ in range(conversations)]
    difference = messages - sum(counts)
    step = 1 if difference > 0 else -1
    i = 0
    while difference:
        j = rng.randrange(conversations)
        if step > 0 or counts[j] > 1:
            counts[j] += step
            difference -= step
        i += 1
    return counts


def generate(sizes: Sizes, *, seed: int, log: Log) -> dict[str, float]:
    rng = random.Random(seed)
    text = TextMaker(seed)
    now = timezone.now().replace(microsecond=0)
    timings: dict[str, float] = {}
    started = time.monotonic()

    config = make_config(rng)
    log(f"configuration: {len(config.inboxes)} inboxes, {AGENTS} agents, {len(config.tags)} tags")

    with psycopg.connect(**_conninfo(), autocommit=True) as admin, admin.cursor() as cur:
        index_sql, fk_sql = _drop_secondary(cur)
        for table, trigger in DEFERRED_TRIGGERS:
            cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    log(
        f"dropped {len(index_sql)} indexes and {len(fk_sql)} foreign keys of the big tables for the load, "
        f"paused {len(DEFERRED_TRIGGERS)} triggers"
    )

    # Contacts and their identities. Identities go in first: the contact trigger reads them into
    # the contact's search document as the contact row arrives.
    phase = time.monotonic()
    contact_names: list[str] = []
    contact_created: list[datetime] = []
    span = timedelta(days=SPAN_DAYS)
    start = now - span
    people = psycopg.connect(**_conninfo())
    identities = Stream(
        "conversations_channelidentity",
        ChannelIdentity,
        ("id", "contact_id", "kind", "value", "verified", "created_at"),
        people,
    )
    identity_id = 0
    for cid in range(1, sizes.contacts + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first} {last}"
        contact_names.append(name)
        created = start - timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
        contact_created.append(created)
        has_phone = rng.random() < 0.85
        if has_phone:
            identity_id += 1
            identities.write((identity_id, cid, "phone", f"+1415{2000000 + cid:07d}", True, created))
        if not has_phone or rng.random() < 0.9:
            identity_id += 1
            email = f"{first}.{last}{cid}@{rng.choice(('gmail.com', 'example.com', 'shop.example', 'mail.test'))}"
            identities.write((identity_id, cid, "email", email.lower(), False, created))
    identities.close()
    contacts = Stream(
        "conversations_contact",
        Contact,
        (
            "id",
            "name",
            "language",
            "location",
            "segment",
            "custom_attributes",
            "merged_into_id",
            "created_at",
            "updated_at",
        ),
        people,
    )
    empty = Jsonb({})
    for cid in range(1, sizes.contacts + 1):
        contacts.write(
            (
                cid,
                contact_names[cid - 1],
                rng.choice(LANGUAGES),
                rng.choice(CITIES),
                rng.choice(SEGMENTS),
                empty,
                None,
                contact_created[cid - 1],
                contact_created[cid - 1],
            )
        )
    contacts.close()
    people.commit()  # one transaction: the identities' foreign keys are checked (deferred) here
    people.close()
    timings["contacts"] = time.monotonic() - phase
    log(f"{sizes.contacts} contacts and {identity_id} identities in {timings['contacts']:.0f} s")

    phase = time.monotonic()
    counts = _message_counts(rng, sizes.conversations, sizes.messages)
    written = _write_history(sizes, config, counts, rng, text, now, contact_names, log)
    timings["history"] = time.monotonic() - phase
    log(
        f"{written['conversations']} conversations, {written['messages']} messages, {written['events']} events "
        f"streamed in {timings['history']:.0f} s"
    )

    phase = time.monotonic()
    with psycopg.connect(**_conninfo(), autocommit=True) as admin, admin.cursor() as cur:
        # The search documents' index is built once, after the documents are written.
        cur.execute(
            "SELECT indexdef, format('DROP INDEX %I', indexname) FROM pg_indexes "
            "WHERE tablename = 'conversations_conversationsearch' "
            "AND indexname <> 'conversations_conversationsearch_pkey'"
        )
        document_indexes = cur.fetchall()
        for _create, drop in document_indexes:
            cur.execute(drop)
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        tables = [row[0] for row in cur.fetchall()]
    jobs = _post_load_jobs(
        index_sql, fk_sql, [create for create, _drop in document_indexes], sizes.conversations, tables
    )
    _run_jobs(jobs, workers=2)
    timings["post_load"] = time.monotonic() - phase
    for label, prefix in (
        (f"{len(index_sql)} indexes", "index "),
        (f"{sizes.conversations} search documents", "documents "),
        (f"{len(fk_sql)} foreign keys and view counters", "foreign keys"),
        ("vacuum and analyze", "vacuum "),
    ):
        seconds = sum(job.seconds for job in jobs if job.name.startswith(prefix))
        timings[prefix.strip().replace(" ", "_")] = seconds
        log(f"  {label}: {seconds:.0f} s of work")
    log(
        f"indexes, search documents, foreign keys, counters and vacuum on 2 connections in {timings['post_load']:.0f} s"
    )
    with psycopg.connect(**_conninfo(), autocommit=True) as admin, admin.cursor() as cur:
        for model in (Contact, ChannelIdentity, Conversation, Message, ConversationEvent):
            table = model._meta.db_table
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('conversations_conversation_tags', 'id'), "
            "(SELECT coalesce(max(id), 1) FROM conversations_conversation_tags))"
        )
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        row = cur.fetchone()
        log(f"database size {row[0] if row else '?'}")
    timings["total"] = time.monotonic() - started
    return timings


CONVERSATION_COLUMNS = (
    "id",
    "inbox_id",
    "contact_id",
    "subject",
    "status",
    "handler",
    "priority",
    "snoozed_until",
    "assignee_id",
    "team_id",
    "topic",
    "summary",
    "language",
    "assistant_state",
    "created_at",
    "updated_at",
    "status_changed_at",
    "handed_off_at",
    "assigned_at",
    "first_response_at",
    "waiting_since",
    "resolved_at",
    "resolved_by_id",
    "sla_policy_id",
    "first_response_due_at",
    "next_response_due_at",
    "resolution_due_at",
    "last_message_at",
    "last_message_preview",
    "last_message_direction",
    "last_message_sender_kind",
    "last_inbound_at",
    "message_count",
)
MESSAGE_COLUMNS = (
    "id",
    "conversation_id",
    "inbox_id",
    "direction",
    "sender_kind",
    "sender_user_id",
    "sender_contact_id",
    "is_private_note",
    "subject",
    "body",
    "html",
    "channel_message_id",
    "delivery_status",
    "delivery_error",
    "confidence",
    "metadata",
    "created_at",
    "sent_at",
    "delivered_at",
)
EVENT_COLUMNS = ("id", "conversation_id", "kind", "actor_kind", "actor_id", "message_id", "data", "created_at")
PREVIEW_LENGTH = 200


def _write_history(
    sizes: Sizes,
    config: Config,
    counts: list[int],
    rng: random.Random,
    text: TextMaker,
    now: datetime,
    contact_names: list[str],
    log: Log,
) -> dict[str, int]:
    random_ = rng.random
    randrange = rng.randrange
    expovariate = rng.expovariate
    choice = rng.choice
    inbox_choices = rng.choices(range(len(config.inboxes)), weights=INBOX_WEIGHTS, k=sizes.conversations)
    priorities = rng.choices(PRIORITIES, weights=PRIORITY_WEIGHTS, k=sizes.conversations)
    span_seconds = SPAN_DAYS * 86400
    start = now - timedelta(days=SPAN_DAYS)
    hour = timedelta(hours=1)
    week = timedelta(days=7)
    minute = timedelta(minutes=1)
    empty = Jsonb({})
    channel_data = {kind: Jsonb({"channel": kind}) for kind in ChannelKind.values}
    twilio_kinds = {ChannelKind.SMS, ChannelKind.WHATSAPP}
    message_id = 0
    event_id = 0
    tag_row = 0
    # Returning customers: a fifth of the contacts write most of the conversations.
    regulars = max(1, sizes.contacts // 5)
    report_every = max(1, sizes.conversations // 10)

    with _streams(
        ("conversations_conversation", Conversation, CONVERSATION_COLUMNS),
        ("conversations_message", Message, MESSAGE_COLUMNS),
        ("conversations_conversationevent", ConversationEvent, EVENT_COLUMNS),
        ("conversations_conversation_tags", None, ("id", "conversation_id", "tag_id")),
    ) as (conversations, messages, events, tags):
        write_message = messages.write
        write_event = events.write
        for index in range(sizes.conversations):
            cid = index + 1
            inbox_id, kind, assistant, team_id, members = config.inboxes[inbox_choices[index]]
            contact_id = (randrange(regulars) if random_() < 0.6 else randrange(sizes.contacts)) + 1
            name = contact_names[contact_id - 1].split(" ", 1)[0]
            topic = text.topic()
            created = start + timedelta(seconds=span_seconds * (index + random_()) / sizes.conversations)
            n = counts[index]
            # Message times: a burst, then replies minutes to hours apart, fitted before now.
            gaps = [expovariate(1 / 1800) + 20 for _ in range(n - 1)]
            room = (now - created).total_seconds() - 5
            total = sum(gaps)
            if total > room:
                scale = max(room, 0) / total if total else 0
                gaps = [g * scale for g in gaps]
            times = [created]
            t = created
            for g in gaps:
                t = t + timedelta(seconds=g)
                times.append(t)

            # The assistant answers first; in most of its conversations it hands off after its first reply.
            human = not assistant or (n > 2 and random_() < 0.55)
            handoff_at_message = 2 if assistant else 0
            assignee = choice(members) if human and random_() < 0.9 else None
            subject = text.subject(topic) if kind == ChannelKind.EMAIL else ""

            write_event(
                (
                    event_id := event_id + 1,
                    cid,
                    EventKind.CREATED,
                    SenderKind.CONTACT,
                    None,
                    None,
                    channel_data[kind],
                    created,
                )
            )
            handed_off_at = assigned_at = first_response_at = last_inbound_at = None
            waiting_since = None
            direction = Direction.INBOUND
            sender_kind = SenderKind.CONTACT
            body = ""
            for position in range(n):
                at = times[position]
                message_id += 1
                if position == handoff_at_message and human and assistant:
                    handed_off_at = at
                    write_event(
                        (
                            event_id := event_id + 1,
                            cid,
                            EventKind.HANDOFF,
                            SenderKind.ASSISTANT,
                            None,
                            None,
                            Jsonb({"reason": "handoff_keyword"}),
                            at,
                        )
                    )
                    if assignee is not None:
                        assigned_at = at
                        write_event(
                            (
                                event_id := event_id + 1,
                                cid,
                                EventKind.ASSIGNED,
                                SenderKind.SYSTEM,
                                None,
                                None,
                                Jsonb({"from": None, "to": assignee}),
                                at,
                            )
                        )
                elif position == 0 and human and not assistant:
                    handed_off_at = at  # an inbox without the assistant hands every conversation to humans
                    if assignee is not None:
                        assigned_at = at
                        write_event(
                            (
                                event_id := event_id + 1,
                                cid,
                                EventKind.ASSIGNED,
                                SenderKind.SYSTEM,
                                None,
                                None,
                                Jsonb({"from": None, "to": assignee}),
                                at,
                            )
                        )
                # Customers write first and after each reply; sometimes twice in a row.
                inbound = position == 0 or (direction == Direction.OUTBOUND) or random_() < 0.15
                if inbound:
                    direction, sender_kind = Direction.INBOUND, SenderKind.CONTACT
                    body = text.customer_first(topic, name) if position == 0 else text.customer_follow_up(name)
                    last_inbound_at = at
                    if waiting_since is None:
                        waiting_since = at
                    write_message(
                        (
                            message_id, cid, inbox_id, direction, sender_kind, None, contact_id, False,
                            subject if position == 0 else "", body, "",
                            f"SM{message_id:032x}" if kind in twilio_kinds else None,
                            "", "", None, empty, at, None, None,
                        )
                    )  # fmt: skip
                    write_event(
                        (
                            event_id := event_id + 1,
                            cid,
                            EventKind.MESSAGE_IN,
                            SenderKind.CONTACT,
                            None,
                            message_id,
                            channel_data[kind],
                            at,
                        )
                    )
                else:
                    direction = Direction.OUTBOUND
                    by_assistant = handed_off_at is None and assistant
                    if by_assistant:
                        sender_kind, user = SenderKind.ASSISTANT, None
                        body = text.assistant_reply(name)
                        confidence = round(0.4 + random_() * 0.6, 2)
                    else:
                        sender_kind, user = SenderKind.AGENT, assignee or choice(members)
                        body = text.agent_reply(name)
                        confidence = None
                    delivered = kind in twilio_kinds
                    write_message(
                        (
                            message_id, cid, inbox_id, direction, sender_kind, user, None, False,
                            ("Re: " + subject)[:300] if subject else "", body, "",
                            f"SM{message_id:032x}" if delivered else None,
                            DeliveryStatus.DELIVERED if delivered else DeliveryStatus.SENT, "", confidence, empty,
                            at, at, at + timedelta(seconds=2) if delivered else None,
                        )
                    )  # fmt: skip
                    write_event(
                        (event_id := event_id + 1, cid, EventKind.MESSAGE_OUT, sender_kind, user, message_id, empty, at)
                    )
                    if first_response_at is None:
                        first_response_at = at
                    waiting_since = None

            last = times[-1]
            age = now - last
            status = Status.ACTIVE
            status_changed_at = created
            resolved_at = resolved_by = snoozed_until = None
            if age >= hour - 10 * minute:
                # The idle timer made it pending an hour after the last message.
                pending_at = last + hour
                status, status_changed_at = Status.PENDING, pending_at
                write_event(
                    (
                        event_id := event_id + 1,
                        cid,
                        EventKind.STATUS,
                        SenderKind.SYSTEM,
                        None,
                        None,
                        Jsonb({"from": "active", "to": "pending", "reason": "timer:no_new_message"}),
                        pending_at,
                    )
                )
                closes = direction == Direction.OUTBOUND or random_() < 0.9
                resolved_at_candidate = pending_at + timedelta(minutes=5 + randrange(600))
                if closes and random_() < 0.97 and resolved_at_candidate < now - minute:
                    resolver = assignee if human else None
                    resolved_at, resolved_by = resolved_at_candidate, resolver
                    status, status_changed_at = Status.RESOLVED, resolved_at
                    write_event(
                        (
                            event_id := event_id + 1,
                            cid,
                            EventKind.STATUS,
                            SenderKind.AGENT if resolver else SenderKind.SYSTEM,
                            resolver,
                            None,
                            Jsonb({"from": "pending", "to": "resolved", "reason": ""}),
                            resolved_at,
                        )
                    )
                    archived_at = resolved_at + week
                    if archived_at < now - minute:
                        status, status_changed_at = Status.ARCHIVED, archived_at
                        write_event(
                            (
                                event_id := event_id + 1,
                                cid,
                                EventKind.STATUS,
                                SenderKind.SYSTEM,
                                None,
                                None,
                                Jsonb({"from": "resolved", "to": "archived", "reason": "timer:archive_delay"}),
                                archived_at,
                            )
                        )
                elif random_() < 0.1:
                    snoozed_until = now + timedelta(hours=1 + randrange(24 * 30))
                    write_event(
                        (
                            event_id := event_id + 1,
                            cid,
                            EventKind.SNOOZED,
                            SenderKind.AGENT,
                            assignee,
                            None,
                            Jsonb({"until": snoozed_until.isoformat()}),
                            status_changed_at,
                        )
                    )
            updated_at = max(status_changed_at, last)
            conversations.write(
                (
                    cid, inbox_id, contact_id, subject, status,
                    Handler.HUMAN if handed_off_at else Handler.BOT,
                    priorities[index], snoozed_until, assignee, team_id if human else None,
                    topic, "", "", empty,
                    created, updated_at, status_changed_at, handed_off_at, assigned_at, first_response_at,
                    waiting_since,
                    resolved_at, resolved_by, None, None, None, None,
                    last, body.strip()[:PREVIEW_LENGTH], direction, sender_kind, last_inbound_at, n,
                )
            )  # fmt: skip
            if random_() < 0.3:
                for tag in rng.sample(config.tags, 1 + (random_() < 0.3)):
                    tag_row += 1
                    tags.write((tag_row, cid, tag))
            if cid % report_every == 0:
                log(f"  {cid} conversations, {message_id} messages")
        written = {"conversations": conversations.rows, "messages": messages.rows, "events": events.rows}
    return written
