"""``relance match`` on two cores: one process matches while this one writes.

Matching 100,000 lines against a million open invoices is two kinds of work of about the same
size: reading the open invoices and matching (pure Python, ``relance.engine.cashapp``) and
writing what was decided (the ledger import's layer, SQL). In one process they add up; here a
forked **matching process** reads what matching needs once (open items, payers, the lines), then
decides batch after batch — applying each chosen candidate in its matcher ahead, exactly as the
one-process run does — and sends the decisions through a pipe, while this process writes each batch
(``_Run.write``, the same code as the one-process path) in its own transaction.

The decisions are the same as in one process as long as every write goes as matching assumed.
When one does not — the ledger refuses a payment, another run applied a line meanwhile, a person
applied or unapplied one, the matching process died — the batch is rolled back, the matching
process stopped, and the run goes on in one process from that batch, with a matcher built from what
is committed (which is what the one-process run's matcher would hold at that point). A crash of
this process leaves the batches before it committed and the rest untouched, as in one process.

The matching process reads only committed rows and writes nothing, so the pipeline runs only
outside a transaction (``wanted``), and it needs ``fork`` (Linux, macOS with the fork start method).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import traceback
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

from django.db import connection, connections, transaction

from relance.cashapp import selectors
from relance.cashapp.matching import (
    BATCH_LINES,
    Decision,
    Diverged,
    MatchOutcome,
    _Refused,
    _Run,
    applied_before,
    id_batches,
)
from relance.cashapp.models import BankLine
from relance.core.actors import Actor
from relance.engine.cashapp.lines import BankLineData, OpenItem
from relance.engine.cashapp.matcher import Matcher, MatchPolicy
from relance.ledger.models import Entity

logger = logging.getLogger(__name__)

MIN_LINES = 5_000
"""From this many lines a run is pipelined (``wanted``): below, forking and reading the open
items twice cost more than they save."""
READ_CHUNK = 2_000  # ids a query when the matching process reads the lines


def wanted(asked: bool | None, *, lines: int) -> bool:
    """Whether to pipeline a run of ``lines`` lines: as ``asked``, or, when None, for a large run
    outside a transaction on a machine with two cores or more. Asked for inside a transaction it
    is an error: the matching process could not see what this one has not committed."""
    possible = "fork" in multiprocessing.get_all_start_methods()
    if asked is None:
        return (
            possible and lines >= MIN_LINES and not connection.in_atomic_block and (os.cpu_count() or 1) > 1
        )
    if asked and connection.in_atomic_block:
        raise RuntimeError(
            "the matching pipeline needs autocommit: its matching process reads what is committed"
        )
    return asked and possible


def lines_match_pipelined(
    *,
    entity: Entity,
    actor: Actor,
    policy: MatchPolicy,
    confirm: bool,
    ids: list[int],
    outcome: MatchOutcome,
    batch_size: int = BATCH_LINES,
) -> list[int]:
    """Match and write the lines of ``ids`` (in this order) with a matching process; counts go to
    ``outcome``. Returns the ids left for the one-process run: [] when all went as decided, the
    ids from the batch that diverged on otherwise."""
    connections.close_all()  # the fork must not share this process's database connections
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    matcher_process = context.Process(
        target=_match_ahead,
        args=(entity.pk, policy, ids, batch_size, sender),
        name="relance-match",
        daemon=True,
    )
    matcher_process.start()
    sender.close()
    run = _Run(None, {}, outcome, policy)
    waiting = selectors.unmatched_credit_lines(entity=entity)
    # Read while the matching process builds its indexes (this one has nothing else to do then);
    # each batch checks again, in its transaction, that its lines still wait.
    lines: dict[int, BankLine] = {}
    for start in range(0, len(ids), READ_CHUNK):
        lines.update(waiting.in_bulk(ids[start : start + READ_CHUNK]))
    for line in lines.values():
        line.entity = entity
    done = 0
    try:
        while True:
            try:
                message = receiver.recv()
            except EOFError:
                logger.warning("the matching process ended early: going on in one process")
                return ids[done:]
            if message is None:
                return []
            if isinstance(message, str):
                logger.warning("the matching process failed, going on in one process:\n%s", message)
                return ids[done:]
            chunk, decisions, before, items = message
            run.items.update(items)
            saved = _copy(outcome)
            try:
                _batch_write(run, waiting, lines, chunk, decisions, before, actor=actor, confirm=confirm)
            except Diverged as why:
                logger.info("matching diverged at line %s (%s): going on in one process", chunk[0], why)
                _restore(outcome, saved)
                return ids[done:]
            done += len(chunk)
    finally:
        receiver.close()
        if matcher_process.is_alive():
            matcher_process.terminate()
        matcher_process.join()


def _batch_write(
    run: _Run,
    waiting: Any,
    lines: dict[int, BankLine],
    chunk: list[int],
    decisions: list[Decision],
    before: set[int],
    *,
    actor: Actor,
    confirm: bool,
) -> None:
    """One batch in one transaction, as decided; ``Diverged`` (all rolled back) when the lines
    or the ledger are not as matching saw them."""
    with transaction.atomic():
        still = set(waiting.filter(pk__in=chunk).values_list("pk", flat=True))
        if len(still) != len(chunk) or not lines.keys() >= still:
            raise Diverged("a line was decided meanwhile")
        batch = [lines.pop(pk) for pk in chunk]
        if applied_before(chunk) != before:
            raise Diverged("a line was applied or unapplied meanwhile")

        def take_back(line: BankLine, decision: Decision) -> None:
            raise Diverged(f"line {line.pk} was not applied as decided")

        try:
            run.write(batch, decisions, before, actor=actor, confirm=confirm, take_back=take_back)
        except _Refused as refused:
            raise Diverged("the ledger refused the batch") from refused


def _match_ahead(
    entity_id: int, policy: MatchPolicy, ids: list[int], batch_size: int, sender: Connection
) -> None:
    """The matching process: read the lines and the open items once (indexing them as they are
    read), then decide batch after batch and send the decisions (``(ids, decisions, lines applied
    before, the open items they name)``), None at the end, or the traceback's text if it fails.

    Streaming the open items from the other process was measured and refused: pickling a million
    rows of Decimals and dates cost that process more than reading them here (docs/benchmarks.md)."""
    try:
        entity = Entity.objects.get(pk=entity_id)
        waiting = selectors.unmatched_credit_lines(entity=entity)
        lines: dict[int, BankLineData] = {}
        before: set[int] = set()
        for start in range(0, len(ids), READ_CHUNK):
            chunk = ids[start : start + READ_CHUNK]
            for line in waiting.filter(pk__in=chunk):
                lines[line.pk] = selectors.bank_line_data(line)
            before |= applied_before(chunk)
        matcher = Matcher(
            map(selectors.open_item, selectors.open_item_rows(entity=entity)),
            selectors.known_payers(entity=entity),
            policy,
            known_patterns=selectors.known_patterns(entity=entity),
        )
        connections.close_all()  # read once: nothing more is asked of the database here
        items = {item.invoice_id: item for item in matcher.items}
        run = _Run(matcher, items, MatchOutcome(entity=entity.name), policy)
        for chunk in id_batches(ids, batch_size):
            mine = before.intersection(chunk)
            decisions = run.decide([(pk, lines[pk]) for pk in chunk if pk in lines], mine)
            sender.send((chunk, decisions, mine, _named(decisions, items)))
        sender.send(None)
    except Exception:
        sender.send(traceback.format_exc())
    finally:
        sender.close()


def _named(decisions: list[Decision], items: dict[int, OpenItem]) -> dict[int, OpenItem]:
    """The open items the decisions' candidates name (what writing them reads: refs, customers)."""
    return {
        allocation.invoice_id: items[allocation.invoice_id]
        for decision in decisions
        for candidate in (*decision.result.candidates, *(c for c in [decision.result.chosen] if c))
        for allocation in candidate.allocations
    }


def _copy(outcome: MatchOutcome) -> dict[str, Any]:
    return {
        "lines": outcome.lines,
        "statuses": Counter(outcome.statuses),
        "already_applied": outcome.already_applied,
        "refused": outcome.refused,
        "payments": list(outcome.payments),
    }


def _restore(outcome: MatchOutcome, saved: dict[str, Any]) -> None:
    for name, value in saved.items():
        setattr(outcome, name, value)
