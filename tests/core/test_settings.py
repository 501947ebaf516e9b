"""Settings come only from the environment, and a bad value stops the start with its name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k" * 20 + "-strong-random-secret-value-for-tests"

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": STRONG_KEY,
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/inbox_settings_check",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "inbox.example.com",
    "PUBLIC_BASE_URL": "https://inbox.example.com",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "t" * 32,
    "EMAIL_HOST": "smtp.example.com",
    "ANTHROPIC_API_KEY": "sk-ant-test",
}


def run_manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in _OURS}
    clean.update({"INBOX_VAR_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


_OURS = {
    "DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "PUBLIC_BASE_URL", "EMAIL_HOST",
    "EMAIL_PORT", "EMAIL_BACKEND", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "ANTHROPIC_API_KEY",
    "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "LOG_LEVEL",
}  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DEBUG", "maybe", "DEBUG must be a boolean"),
        ("EMAIL_PORT", "twenty-five", "EMAIL_PORT must be an integer"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL must be a URL starting with"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must be a URL starting with"),
        ("PUBLIC_BASE_URL", "inbox.example.com", "PUBLIC_BASE_URL must be a URL"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of"),
        ("SECURE_HSTS_SECONDS", "-5", "SECURE_HSTS_SECONDS must be at least 0"),
    ],
)
def test_malformed_value_stops_the_start_naming_the_variable(tmp_path, variable, value, says):
    result = run_manage(tmp_path, "check", **{variable: value})
    assert result.returncode != 0
    assert says in result.stderr


def test_production_refuses_a_missing_secret_key(tmp_path):
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run_manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("weak", ["django-insecure-abcdefghijklmnopqrstuvwxyz0123456789", "short"])
def test_production_refuses_a_default_or_weak_secret_key(tmp_path, weak):
    result = run_manage(tmp_path, "check", **{**PRODUCTION, "SECRET_KEY": weak})
    assert result.returncode != 0
    assert "SECRET_KEY is too short or a known default" in result.stderr


def test_check_deploy_is_clean_in_production(tmp_path):
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "INFO", **PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_embedded_mode_makes_and_keeps_its_own_secret_key(tmp_path):
    first = run_manage(tmp_path, "shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)")
    second = run_manage(tmp_path, "shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)")
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert len(key) >= 50 and key == second.stdout.strip()
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("env", "check_id", "names"),
    [
        ({}, "inbox.I001", "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"),
        ({"TWILIO_ACCOUNT_SID": "AC1"}, "inbox.E001", "TWILIO_AUTH_TOKEN is missing"),
        ({}, "inbox.I002", "EMAIL_HOST"),
        ({}, "inbox.I003", "ANTHROPIC_API_KEY"),
    ],
)
def test_each_integration_check_says_what_is_missing(tmp_path, env, check_id, names):
    result = run_manage(tmp_path, "check", "--deploy", **env)
    output = result.stdout + result.stderr
    assert check_id in output and names in output


def test_an_unconfigured_integration_keeps_ordinary_commands_quiet(tmp_path):
    result = run_manage(tmp_path, "check")
    assert result.returncode == 0
    assert "no issues" in result.stdout and "inbox.I00" not in result.stdout + result.stderr


def test_a_half_configured_integration_is_an_error_at_every_start(tmp_path):
    result = run_manage(tmp_path, "check", TWILIO_AUTH_TOKEN="t" * 32)
    assert result.returncode != 0
    assert "TWILIO_ACCOUNT_SID is missing" in result.stderr


def test_production_over_plain_http_is_flagged_by_check_deploy(tmp_path):
    env = {**PRODUCTION, "PUBLIC_BASE_URL": "http://inbox.example.com"}
    result = run_manage(tmp_path, "check", "--deploy", **env)
    assert "inbox.W001" in result.stdout + result.stderr


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_pooled_connection_that_died_while_idle_is_replaced_not_handed_out() -> None:
    """After a PostgreSQL restart or a terminated backend, the next request gets a live connection."""
    import contextlib

    from django.db import connection

    pool = connection.pool
    if pool is None:
        pytest.skip("the pool is opt-in (DB_POOL_MAX_SIZE); run with it set to check it")
    with pool.connection() as spare:
        dead_pid = spare.info.backend_pid  # back in the pool, idle, once the block ends
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [dead_pid])
    connection.close()  # Django's own goes back too: every idle one is handed out below

    with contextlib.ExitStack() as held:
        pids = set()
        for _ in range(pool.get_stats()["pool_available"] + 1):
            conn = held.enter_context(pool.connection())
            conn.execute("SELECT 1")
            pids.add(conn.info.backend_pid)
    assert dead_pid not in pids
