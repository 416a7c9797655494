"""An import leaves one audit event (not one per row); a rejected or dry-run import leaves none."""

from __future__ import annotations

from relance.audit.models import AuditEvent


def test_a_committed_import_is_one_audit_event_with_its_counts(write, run_import, entity):
    path = write("customers.csv", "customer_ref,name\nC1,Dupont\nC2,Durand\n")
    run_import("customers", path)
    events = list(AuditEvent.objects.filter(action="import"))
    assert len(events) == 1
    event = events[0]
    assert event.entity_id == entity.pk
    assert event.object_type == "ledger.customers"
    assert event.after["rows"] == 2 and event.after["created"] == 2
    assert event.actor_label.startswith("cli")


def test_a_dry_run_or_rejected_import_records_nothing(write, run_import):
    good = write("customers.csv", "customer_ref,name\nC1,Dupont\n")
    run_import("customers", good, "--dry-run")
    bad = write(
        "invoices.csv",
        "invoice_ref,customer_ref,issue_date,due_date,amount\nI1,NOPE,2026-01-01,2026-01-31,10\n",
    )
    run_import("invoices", bad)
    assert not AuditEvent.objects.filter(action="import").exists()
