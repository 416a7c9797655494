"""Invariants of ``decide`` over random small books (Hypothesis, on every backend)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.dunning.rows import DunningRows

AS_OF = date(2026, 6, 1)
# Examples per backend: each one is two runs of ``decide`` on a fresh book; a run costs tens of
# milliseconds on DuckDB and SQLite, more on PostgreSQL, seconds on Spark. DuckDB explores; the
# other backends check the same SQL in their dialect with fewer examples.
EXAMPLES = {"sqlite": 6, "duckdb": 12, "postgres": 6, "spark": 3}

invoices = st.lists(
    st.tuples(
        st.integers(0, 2),  # customer
        st.integers(-20, 100),  # days past due at AS_OF
        st.integers(1, 5000),  # amount
        st.integers(0, 100),  # % paid
        st.integers(0, 100),  # % disputed
    ),
    min_size=1,
    max_size=8,
)


def test_decisions_are_consistent_and_a_second_run_adds_nothing(backend, make_life):
    @settings(max_examples=EXAMPLES[backend.backend_name], suppress_health_check=[HealthCheck.too_slow])
    @given(invoices, st.sampled_from(["standard", "white_glove", "high_risk"]))
    def check(rows_spec, policy):
        rows = DunningRows()
        customers = [rows.dunned_customer(f"C{n}", policy=policy) for n in range(3)]
        open_units = {}
        for customer, days_late, amount, paid, disputed in rows_spec:
            due = AS_OF - timedelta(days=days_late)
            invoice = rows.invoice(amount, due - timedelta(days=30), due, customer=customers[customer])
            paid_amount = Decimal(amount) * paid / 100
            if paid_amount:
                paid_on = min(due - timedelta(days=1), AS_OF)  # allocations after AS_OF do not count
                rows.pay(invoice, paid_amount, paid_on, customer=customers[customer])
            if disputed:
                rows.dispute(
                    invoice, Decimal(amount) * disputed / 100, opened=due, customer=customers[customer]
                )
            open_units[invoice] = Decimal(amount) - paid_amount
        life = make_life(rows)
        result = life.run(AS_OF)
        decisions = result.decisions.to_pylist()
        steps = result.invoice_steps.to_pylist()
        # each invoice advances at most once, within the decision that lists it
        assert len({row["invoice_id"] for row in steps}) == len(steps)
        listed = {invoice: row["decision_id"] for row in decisions for invoice in row["invoice_ids"]}
        assert listed == {row["invoice_id"]: row["decision_id"] for row in steps}
        for row in decisions:
            ids = row["invoice_ids"]
            assert row["invoice_count"] == len(ids)
            assert 0 < row["amount_due"] <= sum(open_units[invoice] for invoice in ids)
        # grouping: at most one message of each kind per customer and currency
        kinds = Counter(
            (row["customer_id"], row["currency"], row["kind"])
            for row in decisions
            if row["kind"] != "internal"
        )
        assert all(count == 1 for count in kinds.values())
        # nothing is both decided and held back
        held = {row["invoice_id"] for row in result.suppressed.to_pylist() if row["invoice_id"] is not None}
        assert not held & set(listed)
        # the app records the run: the same date again decides nothing
        assert life.run(AS_OF).decisions.num_rows == 0

    check()
