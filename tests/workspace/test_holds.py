"""The sales owner's "I'm on it" in the workspace: "My accounts", the hold form, who may hold what,
and the dunning run honouring the hold."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from relance.audit.models import AuditEvent
from relance.cases.models import CustomerHold
from relance.compliance.links import HOLD_DAYS_MAX
from relance.compliance.services import HOLD_REASON_MAX
from relance.dunning.models import DunningAction, Suppression
from relance.workspace.hold_services import HOLD_AUDIT_ACTION
from tests.workspace.conftest import PASSWORD, _invoice


def _hold(client, customer, **data):
    return client.post(reverse("workspace:customer_hold", args=[customer.pk]), data)


def test_my_accounts_lists_only_owned_accounts_with_the_soonest_escalation_first(ws, sales, client_for):
    sam, ahead, paid_up = sales
    response = client_for(sam).get(reverse("workspace:my_accounts"))
    assert response.status_code == 200
    rows = response.context["accounts"].rows
    assert [row.customer.pk for row in rows] == [ws.late.pk, ahead.pk]  # not by name: Aardvark is later
    late, early = rows
    assert late.steps[0].on == ws.today  # 40 days late, no step recorded: the run catches up today
    assert early.steps[0].on == ws.today + timedelta(days=15) and early.steps[0].step_key == "pre_due"
    assert [(b.currency, b.open_amount, b.overdue_amount) for b in late.balances] == [
        ("EUR", Decimal("4500.00"), Decimal("4500.00"))
    ]
    html = response.content.decode()
    assert "Late Payer GmbH" in html and "Second Buyer SARL" not in html and "Nothing Open SA" not in html
    assert "Other Account SA" not in html


def test_a_sales_owner_holds_an_account_they_own(ws, sales, client_for):
    sam, _, _ = sales
    client = client_for(sam)
    response = _hold(client, ws.late, reason="  Meeting their CFO   on Friday ", days="10")
    assert response.status_code == 302
    hold = CustomerHold.objects.get(customer=ws.late)
    assert (hold.kind, hold.created_by, hold.reason) == (
        "hold",
        sam,
        "Sales owner: Meeting their CFO on Friday",
    )
    assert (hold.starts_on, hold.ends_on) == (ws.today, ws.today + timedelta(days=10))
    # one audit event that says who asked what, not a generic "create" as well
    event = AuditEvent.objects.get(action=HOLD_AUDIT_ACTION)
    assert (event.actor_user, event.object_type, event.object_id) == (sam, "ledger.customer", str(ws.late.pk))
    assert event.after["reason"] == hold.reason and event.after["ends_on"] == hold.ends_on.isoformat()
    assert not AuditEvent.objects.filter(object_type="cases.customerhold").exists()
    # the account shows the hold in force, and the page says what it does
    page = client.get(reverse("workspace:my_accounts")).content.decode()
    assert "Meeting their CFO on Friday" in page and "paused by the hold" in page
    customer_page = client.get(reverse("workspace:customer", args=[ws.late.pk])).content.decode()
    assert "pauses <strong>every step of the dunning policy</strong>" in customer_page
    assert "Collectors and credit managers see the hold" in customer_page


def test_a_sales_owner_cannot_hold_or_see_an_account_they_do_not_own(ws, sales, client_for):
    sam, _, _ = sales
    client = client_for(sam)
    assert _hold(client, ws.second, reason="not mine", days="5").status_code == 404
    assert client.get(reverse("workspace:customer_why", args=[ws.second.pk])).status_code == 404
    assert not CustomerHold.objects.exists()


def test_another_entity_gets_404(ws, client_for):
    response = _hold(client_for(ws.globex_manager), ws.late, reason="x", days="5")
    assert response.status_code == 404
    assert not CustomerHold.objects.exists()


@pytest.mark.parametrize("role", ["auditor", "support"])
def test_read_only_roles_cannot_hold(ws, client_for, role):
    from relance.accounts.services import user_create

    user = ws.auditor
    if role == "support":
        user = user_create(email="sue@acme.test", role="support", entity_names=["acme"], password=PASSWORD)
    client = client_for(user)
    assert client.get(reverse("workspace:my_accounts")).status_code == 200
    assert _hold(client, ws.late, reason="I'm on it", days="5").status_code == 403
    assert not CustomerHold.objects.exists()
    assert (
        "Hold the escalation</button>"
        not in client.get(reverse("workspace:customer", args=[ws.late.pk])).content.decode()
    )


def test_a_collector_and_a_credit_manager_may_hold_with_their_role_in_the_reason(ws, client_for):
    assert _hold(client_for(ws.ana), ws.late, reason="AP confirms payment run", days="3").status_code == 302
    assert _hold(client_for(ws.manager), ws.other, reason="Escalated to CFO", days="2").status_code == 302
    reasons = dict(CustomerHold.objects.values_list("customer_id", "reason"))
    assert reasons == {
        ws.late.pk: "Collector ana@acme.test: AP confirms payment run",
        ws.other.pk: "Credit manager cm@acme.test: Escalated to CFO",
    }


@pytest.mark.parametrize(
    "data,field,message",
    [
        (
            {"reason": "   ", "days": "7"},
            "reason",
            "Say why you are on it (the reason is shown to the collectors).",
        ),
        (
            {"reason": "x" * (HOLD_REASON_MAX + 1), "days": "7"},
            "reason",
            f"Keep the reason under {HOLD_REASON_MAX} characters.",
        ),
        ({"reason": "ok", "days": "0"}, "days", f"Enter between 1 and {HOLD_DAYS_MAX} days."),
        (
            {"reason": "ok", "days": str(HOLD_DAYS_MAX + 1)},
            "days",
            f"Enter between 1 and {HOLD_DAYS_MAX} days.",
        ),
        ({"reason": "ok", "days": "lots"}, "days", "Enter the days as a whole number."),
    ],
)
def test_a_refused_request_writes_nothing_and_says_why(ws, sales, client_for, data, field, message):
    """The account's page again (400), with what was typed and the error by its field."""
    sam, _, _ = sales
    client = client_for(sam)
    response = client.post(reverse("workspace:customer_hold", args=[ws.late.pk]), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert f'<span class="field-error" id="hold-error-{field}">{message}</span>' in html
    typed = data[field].strip()
    assert f'value="{typed}"' in html
    assert (
        not CustomerHold.objects.exists() and not AuditEvent.objects.filter(action=HOLD_AUDIT_ACTION).exists()
    )


def test_the_longest_reason_is_accepted(ws, sales, client_for):
    sam, _, _ = sales
    assert (
        _hold(client_for(sam), ws.late, reason="y" * HOLD_REASON_MAX, days=str(HOLD_DAYS_MAX)).status_code
        == 302
    )
    assert CustomerHold.objects.get().reason.endswith("y" * HOLD_REASON_MAX)


def test_a_get_is_not_a_hold(ws, sales, client_for):
    sam, _, _ = sales
    assert client_for(sam).get(reverse("workspace:customer_hold", args=[ws.late.pk])).status_code == 405


def test_the_form_needs_the_csrf_token(ws, sales):
    from django.test import Client

    sam, _, _ = sales
    client = Client(enforce_csrf_checks=True)
    client.force_login(sam)
    assert _hold(client, ws.late, reason="no token", days="5").status_code == 403
    assert not CustomerHold.objects.exists()


def test_the_run_takes_no_step_for_a_held_customer(ws, sales, client_for):
    """The hold asked for in the page stops the next run for that account, and only for it."""
    from relance.dunning.services import run_start

    sam, _, _ = sales
    assert _hold(client_for(sam), ws.late, reason="I'm on it", days="7").status_code == 302
    tomorrow = ws.today + timedelta(days=1)
    outcome = run_start(entity=ws.acme, as_of=tomorrow)
    acted = set(DunningAction.objects.filter(run=outcome.run).values_list("customer_id", flat=True))
    assert ws.late.pk not in acted
    assert {ws.second.pk, ws.other.pk} <= acted  # due as well, not held: chased
    held = Suppression.objects.filter(customer=ws.late, run=outcome.run)
    assert set(held.values_list("reason", flat=True)) == {"hold"}


def test_next_steps_of_many_accounts_equal_the_360_pages(ws_engine):
    """The bulk next steps of "My accounts" follow the customer 360's rule exactly: after a real
    run (recorded steps), with a segment on another policy, and for an account not yet due."""
    from relance.dunning.services import policy_import, segment_policy_assign
    from relance.engine.dunning.defaults import default_policies
    from relance.engine.dunning.policy import policy_to_dict
    from relance.ledger.models import Customer
    from relance.ledger.selectors import customer_open_items
    from relance.workspace.hold_selectors import next_steps_of_accounts
    from relance.workspace.selectors import next_steps

    ws = ws_engine
    policy_import(entity=ws.acme, spec=policy_to_dict(default_policies()["high_risk"]))
    segment_policy_assign(entity=ws.acme, policy_key="high_risk", segment="risky")
    Customer.objects.filter(pk=ws.other.pk).update(segment="risky")
    ahead = Customer.objects.create(entity=ws.acme, external_ref="C-AHEAD", name="Ahead", currency="EUR")
    _invoice(ahead, "INV-A1", "800.00", -20, ws.today)
    later = ws.today + timedelta(days=20)  # some recorded steps reached, others come due meanwhile
    for today in (ws.today, later):
        customers = {c.pk: c for c in Customer.objects.filter(entity=ws.acme)}
        items = {pk: customer_open_items(customer=c, as_of=today) for pk, c in customers.items()}
        items = {pk: found for pk, found in items.items() if found}
        bulk = next_steps_of_accounts(
            entity=ws.acme, items_by_customer=items, customers=customers, today=today
        )
        one_by_one = {
            pk: next_steps(customer=customers[pk], open_items=found, today=today)
            for pk, found in items.items()
        }
        assert bulk == one_by_one
        assert {step.policy_key for step in bulk[ws.other.pk]} == {"high_risk"}
    assert any(steps for steps in bulk.values())


def test_others_see_the_accounts_they_collect_or_one_sales_owners(ws, sales, client_for):
    sam, ahead, _ = sales
    rows = client_for(ws.ana).get(reverse("workspace:my_accounts")).context["accounts"].rows
    assert {row.customer.pk for row in rows} == {ws.late.pk, ws.second.pk}  # ana collects them
    response = client_for(ws.manager).get(reverse("workspace:my_accounts"), {"owner": sam.pk})
    assert {row.customer.pk for row in response.context["accounts"].rows} == {ws.late.pk, ahead.pk}
    assert sam in list(response.context["owners"])
    globex = client_for(ws.globex_manager).get(reverse("workspace:my_accounts"), {"owner": sam.pk})
    assert globex.context["accounts"].rows == []  # another entity's accounts: none


def test_next_steps_follow_the_reached_step_key_after_the_policy_is_edited(ws_engine):
    """The engine's rule: an invoice stays at the step key it reached when a step is inserted
    before it. (The workspace's former copy read the recorded ``step_index`` and, here, showed
    the already sent step again.)"""
    from relance.dunning.models import InvoiceStep
    from relance.dunning.services import policy_import
    from relance.engine.dunning.defaults import default_policies
    from relance.engine.dunning.policy import policy_to_dict
    from relance.ledger.selectors import customer_open_items
    from relance.workspace.selectors import next_steps

    ws = ws_engine
    items = customer_open_items(customer=ws.second, as_of=ws.today)
    reached = set(InvoiceStep.objects.filter(invoice__in=items).values_list("step_key", flat=True))
    tomorrow = ws.today + timedelta(days=1)
    before = [
        (s.invoice_ref, s.step_key, s.on)
        for s in next_steps(customer=ws.second, open_items=items, today=tomorrow)
    ]
    spec = policy_to_dict(default_policies()["standard"])
    spec["steps"].insert(
        0,
        {
            "key": "welcome",
            "offset_days": -25,
            "action": "message",
            "channels": ["email"],
            "template": "pre_due_friendly",
            "tone": "friendly",
        },
    )
    policy_import(entity=ws.acme, spec=spec)
    after = [
        (s.invoice_ref, s.step_key, s.on)
        for s in next_steps(customer=ws.second, open_items=items, today=tomorrow)
    ]
    assert reached and after == before and not {key for _, key, _ in after} & reached
