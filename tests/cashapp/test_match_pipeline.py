"""``relance match`` on two cores (``relance.cashapp.pipeline``): a forked process matches while
this one writes. The same scenario in two entities — one matched in one process, the other
pipelined — must end in the same rows, line for line; a batch the ledger refuses or a line applied
meanwhile stops the pipeline and the run goes on in one process with the same outcome.

Transactional tests: the matching process reads what is committed. SQLite and PostgreSQL
(``DATABASE_URL``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from relance.cashapp import matching, pipeline
from relance.cashapp.models import BankLine, BankLineApplication
from relance.cashapp.services import bank_account_add, bank_statement_import
from relance.core.actors import Actor
from relance.ledger.models import Allocation, Payment
from relance.ledger.services import entity_create_or_update
from tests.cashapp.samples import Entry, Statement, camt

pytestmark = pytest.mark.django_db(transaction=True)

D = date.fromisoformat


def scenario(tmp_path: Path, name: str, iban: str, make_customer, make_invoice, *, refused: bool = False):
    """Eight invoices paid by eight lines, two partial payments of one invoice (a line after the
    other), a short payment, a line for nobody; with ``refused``, a line the ledger refuses (booked
    before its invoice was issued)."""
    entity, _ = entity_create_or_update(name=name, currency="EUR", legal_name=name)
    bank_account_add(entity=entity, account=iban, currency="EUR", name="main")
    dupont = make_customer("C1", name="Dupont SARL", entity=entity)
    zeta = make_customer("C2", name="Zeta Industries GmbH", entity=entity)
    entries = []
    for n in range(1, 9):
        customer = dupont if n % 2 else zeta
        ref = f"INV-2026-08{n:02d}"
        make_invoice(customer, ref, f"{100 * n}.00", D("2026-10-01"), D("2026-10-31"))
        paid = f"{100 * n}.00" if n != 5 else "480.00"  # a short payment
        entries.append(Entry(paid, servicer_ref=f"B-{n}", unstructured=ref, name=customer.name))
    make_invoice(dupont, "INV-2026-0900", "1000.00", D("2026-10-01"), D("2026-10-31"))
    entries.insert(3, Entry("400.00", servicer_ref="P-1", unstructured="First part INV-2026-0900"))
    entries.insert(5, Entry("300.00", servicer_ref="P-2", unstructured="Second part INV-2026-0900"))
    entries.append(Entry("77.77", servicer_ref="N-1", name="Nobody"))
    if refused:
        make_invoice(dupont, "INV-2026-0899", "999.00", D("2026-12-10"), D("2027-01-09"))
        entries.insert(6, Entry("999.00", servicer_ref="BAD", unstructured="INV-2026-0899"))
    path = tmp_path / f"{name}.xml"
    path.write_bytes(camt(2, Statement(f"S-{name}", iban=iban, entries=tuple(entries))))
    bank_statement_import(entity=entity, path=path)
    return entity


def rows(entity) -> dict:
    """What a run wrote, by refs (ids differ between the entities)."""
    lines = BankLine.objects.filter(entity=entity)
    return {
        "lines": sorted(lines.values_list("bank_ref", "status", "confidence")),
        "reasons": sorted((line.bank_ref, tuple(line.reasons)) for line in lines),
        "allocations": sorted(
            Allocation.objects.filter(entity=entity, payment__isnull=False).values_list(
                "payment__customer__external_ref", "invoice__external_ref", "amount"
            )
        ),
        "payments": sorted(
            Payment.objects.filter(entity=entity).values_list("amount", "customer__external_ref")
        ),
        "applications": sorted(
            (a.line.bank_ref, a.residual_action, tuple(a.reasons), a.confidence)
            for a in BankLineApplication.objects.filter(entity=entity).select_related("line")
        ),
    }


@pytest.mark.parametrize("refused", [False, True], ids=["as-decided", "refused-batch"])
def test_the_pipeline_writes_what_one_process_writes(
    tmp_path, make_customer, make_invoice, refused, caplog
) -> None:
    caplog.set_level("INFO", logger="relance.cashapp.pipeline")
    alone = scenario(tmp_path, "alone", "NL77ABNA0574908765", make_customer, make_invoice, refused=refused)
    piped = scenario(
        tmp_path, "piped", "DE89370400440532013000", make_customer, make_invoice, refused=refused
    )
    one = matching.lines_match(entity=alone, actor=Actor.cli(), confirm=False, batch_size=4, pipeline=False)
    two = matching.lines_match(entity=piped, actor=Actor.cli(), confirm=False, batch_size=4, pipeline=True)
    assert one.as_dict() | {"entity": ""} == two.as_dict() | {"entity": ""}
    assert (one.statuses["applied"], one.refused) == ((10, 0) if not refused else (10, 1))
    assert rows(alone) == rows(piped)
    assert rows(piped)["lines"].count(("N-1", "unmatched", None)) == 1
    handed = [r.getMessage() for r in caplog.records if "going on in one process" in r.getMessage()]
    if refused:  # the batch holding BAD was refused: one process did it and the rest
        assert len(handed) == 1 and "the ledger refused the batch" in handed[0]
    else:  # the matching process decided every line
        assert handed == []


def test_a_line_applied_meanwhile_hands_the_run_to_one_process(
    tmp_path, make_customer, make_invoice, monkeypatch
) -> None:
    """Another run applies a line after the matching process read it: the batch holding it is
    rolled back, the pipeline stops, and one process finishes the run — nothing applied twice."""
    entity = scenario(tmp_path, "piped", "DE89370400440532013000", make_customer, make_invoice)
    real = pipeline._batch_write
    calls = {"n": 0}

    def meanwhile(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # another run takes the rest before the third batch is written
            matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False, pipeline=False)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_batch_write", meanwhile)
    outcome = matching.lines_match(
        entity=entity, actor=Actor.cli(), confirm=False, batch_size=4, pipeline=True
    )
    applied = BankLineApplication.objects.filter(entity=entity, unapplied_at__isnull=True)
    assert applied.count() == 10 == BankLine.objects.filter(entity=entity, status="applied").count()
    assert Payment.objects.filter(entity=entity).count() == 10
    # The pipeline's first two batches (3 lines), then one process: the other run applied the
    # rest, only the line for nobody is still waiting (it is matched again, unmatched again).
    assert outcome.statuses == {"applied": 3, "unmatched": 1} and outcome.already_applied == 0


def test_a_failing_matching_process_hands_the_run_to_one_process(
    tmp_path, make_customer, make_invoice, monkeypatch, caplog
) -> None:
    entity = scenario(tmp_path, "piped", "DE89370400440532013000", make_customer, make_invoice)

    def broken(*args, **kwargs):
        raise ValueError("the matching process fails")

    monkeypatch.setattr(pipeline, "Matcher", broken)
    outcome = matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False, pipeline=True)
    assert (outcome.lines, outcome.statuses["applied"]) == (11, 10)
    assert any("the matching process fails" in r.getMessage() for r in caplog.records)


def test_the_pipeline_is_chosen_for_large_runs_outside_a_transaction(monkeypatch) -> None:
    assert not pipeline.wanted(None, lines=pipeline.MIN_LINES - 1)
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    assert pipeline.wanted(None, lines=pipeline.MIN_LINES)
    assert not pipeline.wanted(False, lines=10**6)
    from django.db import transaction

    with transaction.atomic():
        assert not pipeline.wanted(None, lines=10**6)
        with pytest.raises(RuntimeError, match="autocommit"):
            pipeline.wanted(True, lines=10)


def test_money_is_exact_through_the_pipe(tmp_path, make_customer, make_invoice) -> None:
    entity = scenario(tmp_path, "piped", "DE89370400440532013000", make_customer, make_invoice)
    matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False, pipeline=True)
    amounts = dict(
        Allocation.objects.filter(entity=entity, invoice__external_ref="INV-2026-0805").values_list(
            "invoice__external_ref", "amount"
        )
    )
    assert amounts == {"INV-2026-0805": Decimal("480.00")}


@pytest.mark.parametrize("one_process", [False, True])
def test_relance_match_pipelines_a_large_run_unless_told(
    tmp_path, make_customer, make_invoice, monkeypatch, one_process
) -> None:
    import json
    from io import StringIO

    from django.core.management import call_command

    scenario(tmp_path, "piped", "DE89370400440532013000", make_customer, make_invoice)
    monkeypatch.setattr(pipeline, "MIN_LINES", 5)  # "large" for this statement of 11 lines
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    used: list[int] = []
    real = pipeline.lines_match_pipelined

    def counted(**kwargs):
        used.append(len(kwargs["ids"]))
        return real(**kwargs)

    monkeypatch.setattr(pipeline, "lines_match_pipelined", counted)
    out = StringIO()
    call_command(
        "match", "--entity", "piped", "--json", *(["--one-process"] if one_process else []), stdout=out
    )
    assert (json.loads(out.getvalue())["applied"], used) == (10, [] if one_process else [11])
