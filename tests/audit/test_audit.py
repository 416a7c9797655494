"""The audit trail: admin and API changes with before/after, actions, the page and the command."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from relance.audit.context import audit_actor, audit_suppressed
from relance.audit.models import AuditEvent
from relance.audit.services import audit_record
from tests.api.conftest import ApiClient


def _admin_form_data(response) -> dict:
    """What the admin's change page would post back, as the browser would send it."""
    data = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        data[name] = "" if value is None else value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for sub in formset.forms:
            for name in sub.fields:
                value = sub[name].value()
                if value is not None and value is not False:
                    data[sub.add_prefix(name)] = value
    return {key: value for key, value in data.items() if value is not False}


def test_a_change_in_the_admin_is_an_event_with_before_and_after(make_user, two_ledgers):
    admin = make_user("root@acme.test", "admin")
    client = Client()
    client.force_login(admin)
    customer = two_ledgers["acme"]
    url = reverse("admin:ledger_customer_change", args=[customer.pk])
    data = _admin_form_data(client.get(url))
    data.update(name="Acme Buyer SAS", payment_terms_days=45)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    event = AuditEvent.objects.get(action="update", object_type="ledger.customer")
    assert event.before == {"name": "Acme Buyer SARL", "payment_terms_days": 30}
    assert event.after == {"name": "Acme Buyer SAS", "payment_terms_days": 45}
    assert event.actor_user == admin and event.actor_label == "root@acme.test"
    assert event.entity == customer.entity and event.object_id == str(customer.pk)
    assert event.ip == "127.0.0.1" and len(event.request_id) >= 16


def test_an_api_change_is_an_event_with_before_and_after(make_user, token_for, two_ledgers):
    manager = make_user("cm@acme.test", "credit_manager", two_ledgers["acme"].entity)
    secret = token_for(manager)
    api = ApiClient(secret)
    assert api.put("/customers/A-1", {"name": "Acme Renamed", "currency": "EUR"}).status_code == 200
    event = AuditEvent.objects.get(action="update")
    assert (event.before, event.after) == ({"name": "Acme Buyer SARL"}, {"name": "Acme Renamed"})
    assert event.actor_user == manager and event.actor_token is not None
    assert event.actor_label.startswith(f"token {event.actor_token.prefix} of cm@acme.test")
    assert api.put("/customers/A-9", {"name": "New One", "currency": "EUR"}).status_code == 201
    created = AuditEvent.objects.get(action="create")
    assert created.after["name"] == "New One" and created.before == {}
    assert created.object_repr.startswith("New One")
    # Sending the same thing again changes nothing and records nothing.
    api.put("/customers/A-1", {"name": "Acme Renamed"})
    assert AuditEvent.objects.filter(object_type="ledger.customer").count() == 2


def test_a_bulk_api_write_is_one_event(make_user, token_for, two_ledgers):
    manager = make_user("cm@acme.test", "credit_manager", two_ledgers["acme"].entity)
    items = [{"customer_ref": f"B-{n}", "name": f"Bulk {n}", "currency": "EUR"} for n in range(5)]
    assert ApiClient(token_for(manager)).post("/customers/bulk", {"items": items}).status_code == 200
    event = AuditEvent.objects.get()
    assert event.action == "import" and event.after == {"created": 5, "updated": 0, "unchanged": 0}
    assert event.entity == two_ledgers["acme"].entity


def test_a_payment_change_shows_its_allocations(make_user, token_for, two_ledgers):
    manager = make_user("cm@acme.test", "credit_manager", two_ledgers["acme"].entity)
    api = ApiClient(token_for(manager))
    body = {"customer_ref": "A-1", "date": "2024-02-10", "currency": "EUR", "amount": "100.00"}
    assert api.put("/payments/PAY-1", body).status_code == 201
    allocated = {**body, "allocations": [{"invoice_ref": "INV-A", "amount": "60.00"}]}
    assert api.put("/payments/PAY-1", allocated).status_code == 200, api.put(
        "/payments/PAY-1", allocated
    ).content
    event = AuditEvent.objects.filter(object_type="ledger.payment", action="update").get()
    assert event.before["allocations"] == [] and len(event.after["allocations"]) == 1


def test_changes_outside_a_request_or_actor_are_not_model_events(entity, make_customer):
    make_customer("Q-1")
    assert not AuditEvent.objects.exists()
    with audit_actor(label="cli:ops"):
        make_customer("Q-2")
        with audit_suppressed():
            make_customer("Q-3")  # inside a bulk job that records one event itself
    event = AuditEvent.objects.get()
    assert event.actor_label == "cli:ops" and event.after["external_ref"] == "Q-2"


def test_audit_record_for_an_import_and_deletes(entity, make_customer):
    with audit_actor(label="cli:ops"):
        doomed = make_customer("D-1")
        doomed.delete()
        audit_record(action="import", entity=entity, object_type="ledger.invoice", after={"created": 120})
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["create", "delete", "import"]
    deleted = AuditEvent.objects.get(action="delete")
    assert deleted.before["name"] == "Customer D-1" and deleted.entity == entity


def test_secrets_never_reach_the_trail(make_user):
    with audit_actor(label="cli:ops"):
        user = make_user("pw@acme.test", "collector")
        user.set_password("another long passphrase")
        user.save()
    for event in AuditEvent.objects.filter(object_type="auth.user"):
        assert "another long passphrase" not in json.dumps([event.before, event.after])
        for side in (event.before, event.after):
            assert side.get("password") in (None, "•••")


def test_the_audit_page_is_for_admins_and_auditors(make_user, signed_in, two_ledgers):
    acme, globex = two_ledgers["acme"].entity, two_ledgers["globex"].entity
    audit_record(action="export", actor_label="someone", entity=acme, object_repr="aging.xlsx")
    audit_record(action="export", actor_label="someone", entity=globex, object_repr="globex-secret.xlsx")
    auditor = signed_in(make_user("aud@acme.test", "auditor", acme))
    page = auditor.get(reverse("web:audit_list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "aging.xlsx" in html and "globex-secret.xlsx" not in html  # entity A's auditor
    collector = signed_in(make_user("col@acme.test", "collector", acme))
    assert collector.get(reverse("web:audit_list")).status_code == 403
    admin = signed_in(make_user("root@acme.test", "admin"))
    assert "globex-secret.xlsx" in admin.get(reverse("web:audit_list")).content.decode()


def test_the_audit_page_filters_and_paginates(make_user, signed_in, entity):
    for n in range(60):
        audit_record(action="export", actor_label=f"user{n % 2}", entity=entity, object_repr=f"file-{n}.csv")
    audit_record(action="login_failed", actor_label="mallory", object_repr="mallory")
    admin = signed_in(make_user("root@acme.test", "admin"))
    url = reverse("web:audit_list")
    first = admin.get(url)
    assert first.context["page"].paginator.count == 61 + 1  # and the admin's own sign-in
    assert len(first.context["page"].object_list) == 50
    assert admin.get(url, {"actor": "user1"}).context["page"].paginator.count == 30
    assert admin.get(url, {"action": "login_failed"}).context["page"].paginator.count == 1
    assert admin.get(url, {"object": "file-7.csv"}).context["page"].paginator.count == 1
    assert admin.get(url, {"entity_name": "acme", "actor": "user0"}).context["page"].paginator.count == 30
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert admin.get(url, {"from": tomorrow}).context["page"].paginator.count == 0
    assert admin.get(url, {"to": tomorrow, "action": "export"}).context["page"].paginator.count == 60


def test_audit_list_command(entity):
    audit_record(
        action="export", actor_label="alice", entity=entity, object_type="ledger.invoice", object_id=7
    )
    audit_record(
        action="export", actor_label="bob", entity=entity, object_type="ledger.customer", object_id=3
    )
    out = io.StringIO()
    call_command("audit", "list", "--actor", "alice", "--since", "1h", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert [(row["actor"], row["object_type"], row["entity"]) for row in rows] == [
        ("alice", "ledger.invoice", "acme")
    ]
    out = io.StringIO()
    call_command("audit", "list", "--object", "ledger.customer#3", "--json", stdout=out)
    assert [row["actor"] for row in json.loads(out.getvalue())] == ["bob"]
    future = (timezone.now() + timedelta(days=1)).date().isoformat()
    out = io.StringIO()
    call_command("audit", "list", "--since", future, stdout=out)
    assert "No audit events." in out.getvalue()


def test_the_trail_is_read_only_in_the_admin_and_requests_carry_an_id(make_user, signed_in, entity):
    event = audit_record(action="export", actor_label="x", entity=entity)
    client = signed_in(make_user("root@acme.test", "admin"))
    assert client.get(reverse("admin:audit_auditevent_changelist")).status_code == 200
    assert (
        client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    response = client.get(reverse("web:audit_list"), headers={"X-Request-ID": "abc-123"})
    assert response["X-Request-ID"] == "abc-123"
    assert (
        len(client.get(reverse("web:audit_list"), headers={"X-Request-ID": "bad id!"})["X-Request-ID"]) == 32
    )
