"""A tiny stand-in for the app: run ``decide`` day after day and record what it decided.

Recording is what the Django run does: each decision becomes a contact_history row (a contact
for messages and calls) and each covered invoice's step becomes an invoice_steps row. So a
second run of the same day, or the next day, sees what the previous one did.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import pyarrow as pa

from relance.engine.backends import _sqlite_insert, is_spark
from relance.engine.dunning import Decisions, Policy
from relance.engine.dunning.contract import ALL_SCHEMAS
from relance.engine.dunning.decide import decide
from relance.engine.dunning.defaults import default_policies
from relance.engine.dunning.policy import CONTACT_ACTIONS
from relance.engine.dunning.tables import create_dunning_tables
from tests.engine.dunning.rows import DunningRows


def describe(decisions: Decisions) -> list[str]:
    """Each decision as ``step_key by channel [invoice ids]`` (internal ones without a channel)."""
    lines = []
    for row in decisions.decisions.to_pylist():
        text = row["step_key"] if row["channel"] is None else f"{row['step_key']} by {row['channel']}"
        if row["invoice_ids"]:
            text += f" [{','.join(str(invoice_id) for invoice_id in row['invoice_ids'])}]"
        if row["broken_promise"]:
            text += " (broken promise)"
        if row["catch_up"]:
            text += " (catch-up)"
        lines.append(text)
    return lines


def reasons(decisions: Decisions) -> list[list[str]]:
    return [[reason["code"] for reason in row["reasons"]] for row in decisions.decisions.to_pylist()]


def suppressed(decisions: Decisions) -> set[tuple[int | None, str]]:
    return {(row["invoice_id"], row["reason"]) for row in decisions.suppressed.to_pylist()}


class Life:
    """A ledger on a backend (DuckDB unless given) and the app's recording of each run."""

    def __init__(
        self,
        rows: DunningRows,
        policies: Mapping[str, Policy] | None = None,
        backend: Any = None,
        *,
        run_zone: str | None = None,
        every_day: bool = True,
    ) -> None:
        self.con = backend if backend is not None else ibis.duckdb.connect()
        self.tables = create_dunning_tables(self.con, rows.rows())
        self.policies = dict(policies or default_policies())
        self.run_zone = run_zone  # the app's: each run at 06:00 in the entity's time zone
        self.every_day = every_day

    def run(self, as_of: date, *, record: bool = True) -> Decisions:
        run_at = None
        if self.run_zone is not None:
            run_at = datetime.combine(as_of, time(6, 0), tzinfo=ZoneInfo(self.run_zone))
        result = decide(self.tables, self.policies, as_of=as_of, run_at=run_at)
        if record:
            self.record(result)
        return result

    def record(self, result: Decisions) -> None:
        history = [
            {
                "customer_id": row["customer_id"],
                "date": result.as_of,
                "step_key": row["step_key"],
                "channel": row["channel"],
                "is_contact": row["action"] in CONTACT_ACTIONS,
            }
            for row in result.decisions.to_pylist()
        ]
        if history:
            self._insert("contact_history", history)
        steps = result.invoice_steps.to_pylist()
        if steps:
            self._insert(
                "invoice_steps", [{key: row[key] for key in ALL_SCHEMAS["invoice_steps"]} for row in steps]
            )

    def _insert(self, name: str, records: list[dict[str, Any]]) -> None:
        schema = ALL_SCHEMAS[name].to_pyarrow()
        arrow = pa.Table.from_pylist(records, schema=schema)
        if is_spark(self.con):  # a temporary view: replaced by one with the rows added
            from relance.engine.spark import register_arrow

            before = self.con.table(name).select(*schema.names).to_pyarrow().cast(schema)
            register_arrow(self.con, name, pa.concat_tables([before, arrow]))
        elif self.con.name == "sqlite":
            _sqlite_insert(self.con, name, arrow)
        else:
            self.con.insert(name, arrow)

    def insert(self, name: str, records: list[dict[str, Any]]) -> None:
        """Add rows to any table mid-life (a payment, a promise, a dispute…)."""
        self._insert(name, records)

    def days(
        self, start: date, end: date, *, expect: Mapping[date, Any] | None = None
    ) -> dict[date, list[str]]:
        """Run every day from ``start`` to ``end``; the days on which something was decided.

        Without ``every_day`` (every backend but DuckDB in the suite) and given ``expect``, the days on
        which decisions are expected, run only on those, the day before each, ``start`` and ``end``:
        a day that decides nothing records nothing, so leaving such days out changes nothing on
        the others.
        """
        every = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
        if self.every_day or expect is None:
            return self.on(every)
        wanted = {start, end} | set(expect) | {when - timedelta(days=1) for when in expect}
        return self.on([when for when in every if when in wanted])

    def on(self, days: list[date]) -> dict[date, list[str]]:
        """Run on each of ``days`` in order (an outage in between); the days with decisions."""
        out = {}
        for day in days:
            lines = describe(self.run(day))
            if lines:
                out[day] = lines
        return out


def table(text: str) -> list[tuple[str, ...]]:
    """Rows of a ``a | b | c`` table; blank lines and ``#`` comments are skipped."""
    rows = []
    for line in text.strip().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            rows.append(tuple(cell.strip() for cell in line.split("|")))
    return rows[1:]  # the header
