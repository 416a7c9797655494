"""Real worker processes against a real SMTP server: kill one mid-batch, run two at once.

The workers are ``relance send`` / ``relance worker`` in subprocesses (tests/delivery/process_runner.py)
on a file-based SQLite database, and on PostgreSQL too when RELANCE_TEST_POSTGRES_URL is set. The
SMTP server (aiosmtpd) runs in the test process. See docs/adr/0004-outbox-exactly-once.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import postgres_url

RUNNER = Path(__file__).with_name("process_runner.py")
REPO = Path(__file__).resolve().parents[2]


def runner(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUNNER), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=check,
        timeout=600,  # a deadline, not a measure: migrating the template takes minutes on a loaded machine
    )


def spawn(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(RUNNER), *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file, copied for each test (migrating takes seconds)."""
    folder = tmp_path_factory.mktemp("outbox-db")
    path = folder / "template.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "RELANCE_VAR_DIR": str(folder)}
    runner(env, "migrate", "--noinput", "-v", "0")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    """One migrated PostgreSQL database, the template each test's database is created from
    (``CREATE DATABASE … TEMPLATE``: a file copy, where migrating again took 20–25 s a test)."""
    url = postgres_url()
    if not url:
        yield None
        return
    import psycopg

    name = f"relance_outbox_template_{uuid.uuid4().hex[:10]}"
    base, _, _ = url.rpartition("/")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    runner({**os.environ, "DATABASE_URL": f"{base}/{name}"}, "migrate", "--noinput", "-v", "0")
    yield name
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def process_env(request, tmp_path, smtp_server, sqlite_template, postgres_template):
    """Environment of the worker processes: their own database, the test's SMTP server."""
    env = {
        **os.environ,
        "RELANCE_TEST_SMTP_PORT": str(smtp_server.port),
        "RELANCE_VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    yield from with_database_from_template(
        env, request.param, tmp_path, sqlite_template, postgres_template, name="outbox"
    )


def with_database_from_template(
    env: dict[str, str],
    backend: str,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_template: str | None,
    *,
    name: str,
) -> Iterator[dict[str, str]]:
    """Yield ``env`` with ``DATABASE_URL`` on a fresh copy of the migrated template (a SQLite file,
    or a PostgreSQL database made from the template and dropped afterwards)."""
    if backend == "sqlite":
        path = tmp_path / f"{name}.sqlite3"
        shutil.copy(sqlite_template, path)
        env["DATABASE_URL"] = f"sqlite:///{path}"
        yield env
        return
    url = postgres_url()
    if not url:
        pytest.skip("SKIPPED: set RELANCE_TEST_POSTGRES_URL to run the worker processes on PostgreSQL")
    import psycopg

    database = f"relance_{name}_{uuid.uuid4().hex[:10]}"
    base, _, _ = url.rpartition("/")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}" TEMPLATE "{postgres_template}"')
    env["DATABASE_URL"] = f"{base}/{database}"
    yield env
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def state(env) -> dict:
    """Read the outbox straight from the workers' database (no Django start-up)."""
    url = env["DATABASE_URL"]
    rows_sql = "SELECT idempotency_key, status, message_id, attempts FROM delivery_outboundmessage"
    events_sql = "SELECT detail FROM delivery_deliveryevent WHERE kind = 'sent'"
    if url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            rows, details = (
                db.execute(rows_sql).fetchall(),
                [json.loads(d) for (d,) in db.execute(events_sql)],
            )
    else:
        import psycopg

        with psycopg.connect(url) as db:
            rows, details = db.execute(rows_sql).fetchall(), [d for (d,) in db.execute(events_sql)]
    keys = ("idempotency_key", "status", "message_id", "attempts")
    return {
        "rows": [dict(zip(keys, row, strict=True)) for row in rows],
        "sent_by_worker": dict(Counter(detail.get("worker", "") for detail in details)),
    }


@pytest.mark.slow
def test_kill_the_worker_mid_batch_then_restart(process_env, smtp_server):
    """SIGKILL while the server holds a message (accepted, reply not yet sent): that message is
    received once and shows as uncertain; the others are sent once after the restart."""
    count, kill_after = 12, 5
    runner(process_env, "populate", str(count))
    smtp_server.delay = 0.3  # the server records the message, then waits before answering "250"
    worker = spawn(process_env, "send", "--worker-id", "killed", "--quiet")
    wait_for(lambda: len(smtp_server.received) >= kill_after, what="the first messages")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    received_before = len(smtp_server.received)
    smtp_server.delay = 0.0
    restarted = runner(process_env, "send", "--worker-id", "killed", "--json")
    report = json.loads(restarted.stdout)
    assert report["recovered_uncertain"] == 1

    rows = state(process_env)["rows"]
    received = Counter(item.email["Message-ID"] for item in smtp_server.received)
    assert max(received.values()) == 1, "a message was received twice"
    statuses = Counter(row["status"] for row in rows)
    assert statuses == {"sent": count - 1, "uncertain": 1}
    for row in rows:
        if row["status"] == "sent":
            assert received[row["message_id"]] == 1
    [uncertain] = [row for row in rows if row["status"] == "uncertain"]
    # Killed after the final "." and before the reply: the server has it; nobody resent it.
    assert received[uncertain["message_id"]] == 1
    assert len(smtp_server.received) == count and received_before >= kill_after


@pytest.mark.slow
def test_two_workers_at_once_send_each_message_once(process_env, smtp_server):
    count = 60
    smtp_server.delay = 0.01
    workers = [
        spawn(process_env, "worker", "--interval", "0.1", "--worker-id", name) for name in ("w1", "w2")
    ]
    try:
        for process in workers:  # both are polling before the messages arrive
            assert "delivering" in process.stderr.readline()
        runner(process_env, "populate", str(count))
        wait_for(lambda: len(smtp_server.received) >= count, what="every message")
        time.sleep(0.3)  # a duplicate would arrive now
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            assert process.wait(timeout=20) == 0  # a clean stop
    result = state(process_env)
    received = Counter(item.email["Message-ID"] for item in smtp_server.received)
    assert len(received) == count and max(received.values()) == 1
    assert Counter(row["status"] for row in result["rows"]) == {"sent": count}
    assert sum(result["sent_by_worker"].values()) == count
    assert set(result["sent_by_worker"]) == {"w1", "w2"}, result["sent_by_worker"]


@pytest.mark.slow
def test_a_slow_send_keeps_its_lease_alive_and_is_not_taken_for_a_dead_worker(process_env, smtp_server):
    """A short lease with a heartbeat: while the provider takes its time, another worker's
    recovery leaves the row alone (without the heartbeat the 0.9 s lease would have expired)."""
    env = {**process_env, "RELANCE_OUTBOX_LEASE_SECONDS": "0.9"}
    runner(env, "populate", "1")
    smtp_server.delay = 6.0  # the server holds the message six seconds before answering
    slow = spawn(env, "send", "--worker-id", "slow", "--quiet")
    wait_for(lambda: len(smtp_server.received) >= 1, what="the message at the server")
    other = json.loads(runner(env, "send", "--worker-id", "other", "--json").stdout)
    assert other["recovered_uncertain"] == 0
    slow.wait(timeout=30)
    assert [row["status"] for row in state(env)["rows"]] == ["sent"]
