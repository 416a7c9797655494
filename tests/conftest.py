"""Shared fixtures. Factories build a small ledger through the services, as the app would."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import settings

# No timing assumptions: a loaded 2-core machine once ran an example in 815 ms against Hypothesis's
# default 200 ms deadline. Every property test runs under this profile (HYPOTHESIS_PROFILE picks
# another registered one).
settings.register_profile("relance", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "relance"))


def _serial_live_server_on_shared_sqlite() -> None:
    """On SQLite the test database is in memory and Django hands the live server's request threads
    the test's one connection: two requests at once (a page and its HTMX panel, when a browser
    test moves on) then use one sqlite3 connection from two threads and can hang. Serve them one
    at a time there (PostgreSQL keeps one connection per thread and the threaded server)."""
    if "postgres" in os.environ.get("DATABASE_URL", ""):
        return
    from django.core.servers.basehttp import WSGIServer
    from django.test.testcases import LiveServerThread

    class SerialWSGIServer(WSGIServer):
        def __init__(self, *args, connections_override=None, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)

    LiveServerThread.server_class = SerialWSGIServer  # type: ignore[assignment]


_serial_live_server_on_shared_sqlite()

SHARED_DIR = Path(os.environ.get("RELANCE_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
DATASETS_DIR = SHARED_DIR / "datasets"


def postgres_url() -> str | None:
    return os.environ.get("RELANCE_TEST_POSTGRES_URL") or None


@pytest.fixture
def shared_datasets() -> Path:
    if not DATASETS_DIR.is_dir():
        pytest.skip(f"SKIPPED: the shared datasets are not at {DATASETS_DIR} (set RELANCE_SHARED_DIR)")
    return DATASETS_DIR


@pytest.fixture
def entity(db):
    from relance.ledger.services import entity_create_or_update

    entity, _ = entity_create_or_update(name="acme", currency="EUR", language="en", legal_name="ACME SAS")
    return entity


@pytest.fixture
def make_customer(entity):
    from relance.ledger.models import Customer

    def make(ref: str = "C1", **fields):
        fields.setdefault("name", f"Customer {ref}")
        fields.setdefault("currency", entity.currency)
        return Customer.objects.create(entity=fields.pop("entity", entity), external_ref=ref, **fields)

    return make


@pytest.fixture
def make_invoice(entity):
    from relance.ledger.models import Invoice

    def make(customer, ref: str, amount: str | Decimal, issue: date, due: date | None = None, **fields):
        return Invoice.objects.create(
            entity=customer.entity,
            customer=customer,
            external_ref=ref,
            issue_date=issue,
            due_date=due or issue,
            currency=fields.pop("currency", customer.currency),
            amount=Decimal(amount),
            **fields,
        )

    return make


@pytest.fixture
def make_payment(entity):
    from relance.ledger.models import Payment

    def make(customer, ref: str, amount: str | Decimal, on: date, **fields):
        return Payment.objects.create(
            entity=customer.entity,
            customer=customer,
            external_ref=ref,
            date=on,
            currency=fields.pop("currency", customer.currency),
            amount=Decimal(amount),
            **fields,
        )

    return make


@pytest.fixture
def engine_calls(monkeypatch):
    """The KPI engine's runs from the reports app (``compute_kpis`` wrapped to count its params):
    a cached figure must cost none."""
    from relance.engine import kpi as engine_kpi
    from relance.reports import selectors as report_selectors

    calls: list = []

    def counting(tables, params, **kwargs):
        calls.append(params)
        return engine_kpi.compute_kpis(tables, params, **kwargs)

    monkeypatch.setattr(report_selectors, "compute_kpis", counting)
    return calls


@pytest.fixture
def document_root(settings, tmp_path):
    """Invoice PDFs stored under this test's temporary directory, never under ``var/``."""
    settings.RELANCE_INVOICE_DOCUMENT_ROOT = str(tmp_path / "documents")
    return tmp_path / "documents"
