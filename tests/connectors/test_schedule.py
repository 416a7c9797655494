"""Scheduled syncs: the worker runs the periodic jobs, and the connectors' job syncs what is due."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import respx

from relance.connectors.models import Connector
from relance.connectors.services import connector_set, connectors_sync_due
from relance.delivery import periodic
from relance.ledger.models import Invoice
from tests.connectors.fakes import FakeERPNext

URL = "https://erp.acme.example"


@pytest.fixture
def erpnext(monkeypatch):
    monkeypatch.setenv("RELANCE_ERPNEXT_API_KEY", "key1")
    monkeypatch.setenv("RELANCE_ERPNEXT_API_SECRET", "secret1")
    fake = FakeERPNext()
    with respx.mock(assert_all_called=False) as router:
        router.route(host="erp.acme.example").mock(side_effect=fake.handler)
        yield fake


def test_a_due_connector_is_synced_once_per_interval(entity, erpnext):
    connector = connector_set(entity=entity, source="erpnext", url=URL, interval_minutes=30)
    manual = connector_set(entity=_other_entity(), source="erpnext", url=URL)  # no interval: never scheduled
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    assert connectors_sync_due(now) == 1
    assert Invoice.objects.filter(entity=entity).count() == 2
    connector.refresh_from_db()
    assert connector.next_sync_at == now + timedelta(minutes=30) and connector.last_sync_at is not None
    assert connectors_sync_due(now + timedelta(minutes=29)) == 0
    assert connectors_sync_due(now + timedelta(minutes=30)) == 1
    manual.refresh_from_db()
    assert manual.last_sync_at is None


def _other_entity():
    from relance.ledger.services import entity_create_or_update

    other, _ = entity_create_or_update(name="beta", currency="EUR", language="en", legal_name="Beta SAS")
    return other


def test_a_failing_scheduled_sync_is_recorded_and_does_not_raise(entity, erpnext, monkeypatch):
    monkeypatch.delenv("RELANCE_ERPNEXT_API_KEY")
    connector = connector_set(entity=entity, source="erpnext", url=URL, interval_minutes=5)

    assert connectors_sync_due(datetime(2026, 12, 7, 9, 0, tzinfo=UTC)) == 0

    connector.refresh_from_db()
    assert "RELANCE_ERPNEXT_API_KEY" in connector.last_result["error"]
    assert Connector.objects.get(pk=connector.pk).next_sync_at is not None  # retried at the next interval


def test_the_connectors_register_their_job_and_the_worker_runs_it(db, monkeypatch):
    from relance.delivery.worker import worker_loop

    assert "connectors.sync" in periodic._JOBS
    stop = threading.Event()
    seen: list[datetime] = []

    def job(now: datetime) -> None:
        seen.append(now)
        stop.set()

    monkeypatch.setattr(periodic, "_JOBS", {"test.job": job})
    worker_loop(worker_id="test", interval=0.01, stop=stop)

    assert len(seen) == 1


def test_a_failing_job_does_not_stop_the_others(monkeypatch):
    def broken(now: datetime) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(periodic, "_JOBS", {"a.broken": broken, "b.fine": lambda now: 3})

    assert periodic.periodic_jobs_run(datetime(2026, 12, 7, tzinfo=UTC)) == {
        "a.broken": "error: boom",
        "b.fine": 3,
    }
