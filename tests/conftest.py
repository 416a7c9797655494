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


# --- the fast tier ---------------------------------------------------------------------------------
# `make test-fast` runs `-m "not slow and not browser and not spark"` for the inner loop; `make test`
# (what CI runs) runs everything. These are marked `slow` here rather than one by one in their files:
# from a `pytest --durations=0` run of the whole suite on the shared 2-core machine (2026-12-07), the
# tests that took 3 s or more (setup included), and the modules whose tests took half a second or
# more on average.
# Re-measure and edit this list when the fast tier drifts past 2 minutes (README, "Developer commands").
SLOW = frozenset(
    {
        # other processes: the CLI, the server and the delivery worker started as subprocesses
        "tests/test_first_import.py",
        "tests/test_cli.py",
        "tests/ingest/test_command_exit.py",
        "tests/web/test_serve.py",
        "tests/delivery/test_processes.py",
        "tests/config/test_settings.py",
        "tests/delivery/test_webhook_security.py::test_check_deploy_fails_for_a_provider_without_webhook_secret",
        # the demo: loads a whole ledger, runs dunning and the snapshots
        "tests/demo/",
        "tests/reports/test_demo_snapshots.py",
        # migrations run backwards and forwards over the whole graph
        "tests/cases/test_migration.py",
        # sweeps over every route, role, operation, page, template or payload
        "tests/security/test_permission_matrix.py",
        "tests/security/test_api_fuzz.py",
        "tests/security/test_template_corpus.py",
        "tests/security/test_headers.py::test_signed_in_pages_carry_the_headers_and_no_inline_script",
        "tests/web/test_visible_text.py",
        "tests/web/test_drilldown.py",
        "tests/comms/test_defaults.py",
        "tests/comms/test_wording.py::test_first_contact_never_speaks_of_earlier_reminders",
        "tests/comms/test_templates_page.py::test_the_menu_links_templates_for_roles_that_may_read_them",
        # the dashboard: each page load computes the KPIs through the engine
        "tests/web/test_dashboard.py",
        "tests/web/test_paging.py",
        "tests/web/test_pages.py::test_dashboard_never_mixes_currencies",
        "tests/web/test_pages.py::test_every_back_office_list_links_the_customer_360",
        "tests/web/test_pages.py::test_dashboard_shows_aging_and_kpis",
        # day-by-day scenarios and runs repeated over many days
        "tests/dunning/test_scenarios.py",
        "tests/dunning/test_gaps.py",
        "tests/dunning/test_promise_rule.py",
        # modules of many engine runs: each of their tests takes half a second or more on average
        "tests/dunning/test_right_when_it_leaves.py",
        "tests/dunning/test_send_time_check_reads.py",
        "tests/dunning/test_run.py",
        "tests/dunning/test_segments.py",
        "tests/dunning/test_binding.py",
        "tests/dunning/test_cli_output.py",
        "tests/engine/dunning/test_scenarios.py",
        "tests/engine/dunning/test_calendar_versions.py",
        "tests/engine/dunning/test_files.py",
        "tests/reports/test_snapshots.py",
        "tests/reports/test_snapshot_watermark.py",
        "tests/workspace/test_policy.py",
        "tests/workspace/test_policy_editing.py",
        "tests/workspace/test_hold_lift.py",
        "tests/workspace/test_behaviour_panel.py",
        "tests/delivery/test_broken_templates.py",
        "tests/portal/test_figures.py",
        "tests/ingest/test_real_data.py",
        "tests/synthetic/",
        # every page of a kind, for every role
        "tests/dunning/test_policies.py::test_every_dunning_admin_page_opens",
        "tests/accounts/test_roles.py::test_an_auditor_cannot_change_anything_in_pages",
        "tests/accounts/test_roles.py::test_entity_a_user_never_sees_entity_b_in_pages",
        "tests/workspace/test_search.py::test_the_search_page_from_the_top_bar_and_its_no_result_state",
        "tests/ingest/test_bad_input.py::test_a_byte_that_does_not_decode_after_the_sample_is_a_clear_error",
        # property tests (many generated ledgers, each through every backend)
        "tests/delivery/test_invariants.py",
        "tests/ingest/test_invariants.py",
        "tests/security/test_backoffice_inputs.py",
        "tests/security/test_portal_inputs.py",
        "tests/engine/test_kpi_invariants.py",
        "tests/engine/dunning/test_invariants.py",
        # large inputs
        "tests/ingest/test_payments_and_credits.py::test_a_large_payments_file_is_grouped_in_flat_memory",
        "tests/ingest/test_bad_input.py::test_a_large_file_streams_in_flat_memory",
        "tests/security/test_api_limits.py::test_ten_thousand_bulk_items_over_djangos_default_body_limit_are_written",
        # a migration replayed, sign-ins hashed again and again
        "tests/accounts/test_roles.py::test_the_migration_creates_every_role_group_with_its_permissions",
        "tests/workspace/test_forms.py::test_a_refused_outcome_keeps_what_was_typed",
        "tests/security/test_lockouts.py::test_failed_sign_ins_behind_the_proxy_lock_the_account_not_everybody",
    }
)


#: Not run again on the PostgreSQL pass: sweeps whose subject is a rule of the app, not its SQL
#: (every route × role, every page's text, every template), and the demo's other scenarios (the
#: demo is the embedded SQLite's job; one demo test still runs on PostgreSQL). Each costs minutes
#: on a second backend for what the SQLite pass already proves; the pages and API operations they
#: sweep run on PostgreSQL in their own modules' tests and in the API fuzz run.
SQLITE_ONLY = frozenset(
    {
        "tests/security/test_permission_matrix.py",
        "tests/web/test_visible_text.py",
        "tests/comms/test_defaults.py",
        "tests/security/test_template_corpus.py",
        "tests/demo/test_demo_team.py",
        "tests/demo/test_demo_command.py::test_demo_loads_a_ledger_once_and_prints_a_working_login",
        "tests/demo/test_demo_command.py::test_demo_never_takes_over_an_existing_account",
        "tests/demo/test_demo_command.py::test_demo_on_another_port_prints_and_queues_links_to_that_port",
        "tests/demo/test_demo_command.py::test_demo_statement_of_the_day_is_imported_and_matched",
    }
)


def _named_in(nodeid: str, names: frozenset[str]) -> bool:
    """A test named in ``names``, in a module named there, or under a folder named there (``…/``)."""
    test = nodeid.split("[", 1)[0]
    module = test.split("::", 1)[0]
    return (
        test in names
        or module in names
        or any(module.startswith(name) for name in names if name.endswith("/"))
    )


def _is_slow(nodeid: str) -> bool:
    return _named_in(nodeid, SLOW)


DJANGO_DATABASE_FIXTURES = frozenset({"db", "transactional_db", "django_db_setup", "live_server"})


def _uses_django_database(item: pytest.Item) -> bool:
    """Whether the test reaches the app's database (a ``django_db`` mark or a database fixture,
    directly or through another fixture), or is marked ``database_url`` (it hands ``DATABASE_URL``
    to a process it starts)."""
    if item.get_closest_marker("django_db") or item.get_closest_marker("database_url"):
        return True
    return not DJANGO_DATABASE_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def _postgres_pass() -> bool:
    """`make test` runs the suite twice: on SQLite, then with DATABASE_URL on PostgreSQL."""
    return "postgres" in os.environ.get("DATABASE_URL", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of SLOW, and the PostgreSQL-only ones, ``slow`` (left out of `make test-fast`).

    On the PostgreSQL pass, leave out (deselected, counted in the summary) what the app's database
    does not change: pure engine, core and CLI tests ran on the SQLite pass with the same code,
    and the engine's own PostgreSQL backend is one of their parameters there; and the sweeps of
    ``SQLITE_ONLY``. Engine tests that
    also use the app's database keep only their ``postgres`` backend here."""
    for item in items:
        if _is_slow(item.nodeid) or item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.slow)
    if not _postgres_pass():
        return
    kept, deselected = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        other_backend = isinstance(backend, str) and backend != "postgres"
        if _uses_django_database(item) and not other_backend and not _named_in(item.nodeid, SQLITE_ONLY):
            kept.append(item)
        else:
            deselected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
