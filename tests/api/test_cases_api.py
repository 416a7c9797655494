"""The case over the API (issue 18): promises, disputes, plans, credit holds, the contacts log and
notes. Each write goes through the service the workspace pages call; each list is scoped like
the pages, cursor-paged and filtered by updated_since."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from relance.accounts.services import user_role_set
from relance.api.services import api_token_create
from relance.audit.models import CaseEvent
from relance.cases import services as case_services
from relance.cases.models import ContactLog, CreditHold, Dispute, PaymentPlan, Promise
from relance.core.actors import Actor
from relance.core.clock import SystemClock, zone
from relance.workspace.models import CustomerNote
from tests.api.conftest import ApiClient, error_of

KEY = {"Idempotency-Key": "0f7c1b8e-issue-18-promise"}


@pytest.fixture
def today(entity):
    return SystemClock().today(zone(entity.timezone or None))


@pytest.fixture
def case(entity, other_entity, make_customer, make_invoice, today):
    """Dupont owes INV-1 and INV-2 (overdue); Globex, of another entity, owes G-1."""
    dupont = make_customer("C1", name="Dupont SARL")
    zeta = make_customer("C2", name="Zeta GmbH")
    inv1 = make_invoice(dupont, "INV-1", "100.00", today - timedelta(days=60), today - timedelta(days=30))
    inv2 = make_invoice(dupont, "INV-2", "250.50", today - timedelta(days=50), today - timedelta(days=20))
    inv3 = make_invoice(zeta, "INV-3", "80.00", today - timedelta(days=40), today - timedelta(days=10))
    globex = make_customer("G1", entity=other_entity, currency="USD")
    g1 = make_invoice(globex, "G-1", "500.00", today - timedelta(days=40), today - timedelta(days=10))
    return {
        "dupont": dupont,
        "zeta": zeta,
        "globex": globex,
        "inv1": inv1,
        "inv2": inv2,
        "inv3": inv3,
        "g1": g1,
    }


def _client_with_role(role: str, entity, grant, username: str) -> ApiClient:
    from django.contrib.auth import get_user_model

    member = get_user_model().objects.create_user(username, password="s3cret-pass")
    user_role_set(user=member, role=role)
    grant(user=member, entity=entity)
    return ApiClient(api_token_create(user=member, name="tests")[1])


def _system() -> Actor:
    return Actor.cli()


# -- promises -----------------------------------------------------------------------------------


def test_a_promise_is_created_through_the_service_listed_read_and_cancelled(api, case, user, today):
    response = api.post(
        "/promises",
        {"customer_ref": "C1", "promised_date": str(today + timedelta(days=7)), "note": "CFO on the phone"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == "350.50" and body["currency"] == "EUR"  # every open invoice, by default
    assert (
        body["invoice_refs"] == ["INV-1", "INV-2"]
        and body["status"] == "open"
        and body["state"] == "upcoming"
    )
    promise = Promise.objects.get(pk=body["id"])
    assert promise.created_by == user
    assert CaseEvent.objects.filter(
        customer=case["dupont"], kind="promise_made"
    ).exists()  # the service's event

    assert [item["id"] for item in api.get("/promises").json()["items"]] == [promise.pk]
    assert api.get(f"/promises/{promise.pk}").json() == body

    cancelled = api.post(f"/promises/{promise.pk}/cancel", {})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.post(f"/promises/{promise.pk}/cancel", {})
    assert again.status_code == 422
    assert error_of(again)["message"] == f"promise {promise.pk} is cancelled, not open"
    assert [i["id"] for i in api.get("/promises", {"status": "open"}).json()["items"]] == []


def test_the_service_refuses_what_the_page_refuses(api, case, today):
    response = api.post("/promises", {"customer_ref": "C1", "promised_date": str(today - timedelta(days=1))})
    assert response.status_code == 422
    assert "is before the day the promise is made" in error_of(response)["message"]
    other = api.post(
        "/promises", {"customer_ref": "C1", "promised_date": str(today), "invoice_refs": ["INV-3"]}
    )
    assert other.status_code == 422
    assert error_of(other)["message"] == "invoice INV-3 belongs to customer C2, not C1"
    assert not Promise.objects.exists()


def test_a_promise_post_with_an_idempotency_key_happens_once(api, case, today):
    body = {"customer_ref": "C1", "promised_date": str(today + timedelta(days=3))}
    first = api.post("/promises", body, **KEY)
    again = api.post("/promises", body, **KEY)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert Promise.objects.count() == 1


def test_another_entitys_rows_and_refs_are_404(api, case, today):
    foreign = case_services.promise_add(
        customer=case["globex"], promised_date=today, on=today, actor=_system()
    )
    dispute = case_services.dispute_open(invoice=case["g1"], reason_code="pricing", on=today, actor=_system())
    assert api.get(f"/promises/{foreign.pk}").status_code == 404
    assert api.post(f"/promises/{foreign.pk}/cancel", {}).status_code == 404
    assert api.get(f"/disputes/{dispute.pk}").status_code == 404
    assert api.post(f"/disputes/{dispute.pk}/resolve", {"resolution": "rejected"}).status_code == 404
    assert api.post("/promises", {"customer_ref": "G1", "promised_date": str(today)}).status_code == 404
    assert api.post("/disputes", {"invoice_ref": "G-1", "reason_code": "pricing"}).status_code == 404
    assert api.post("/credit/holds", {"customer_ref": "G1"}).status_code == 404
    assert api.get("/promises").json()["items"] == [] and api.get("/disputes").json()["items"] == []
    assert Promise.objects.get(pk=foreign.pk).status == "open"


def test_a_sales_owner_sees_only_their_own_accounts_in_pages_and_may_not_use_the_api(
    case, entity, grant, today
):
    sales = _client_with_role("sales", entity, grant, "sam")
    response = sales.get("/promises")
    assert response.status_code == 403 and "sales role" in error_of(response)["message"]


@pytest.mark.parametrize(
    ("role", "method", "path", "body"),
    [
        ("auditor", "post", "/promises", {"customer_ref": "C1", "promised_date": "2999-01-01"}),
        ("support", "post", "/disputes", {"invoice_ref": "INV-1", "reason_code": "pricing"}),
        ("collector", "post", "/credit/holds", {"customer_ref": "C1", "reason": "no"}),
        ("auditor", "post", "/notes", {"customer_ref": "C1", "text": "hello"}),
    ],
)
def test_a_role_without_the_permission_gets_403_and_nothing_is_written(
    case, entity, grant, role, method, path, body
):
    client = _client_with_role(role, entity, grant, f"user-{role}")
    response = getattr(client, method)(path, body)
    assert response.status_code == 403, response.content
    assert error_of(response)["code"] == "forbidden"
    assert not Promise.objects.exists() and not Dispute.objects.exists() and not CreditHold.objects.exists()
    assert not CustomerNote.objects.exists()


def test_a_collector_may_record_promises_and_read_credit_holds(case, entity, grant, today):
    collector = _client_with_role("collector", entity, grant, "colette")
    created = collector.post("/promises", {"customer_ref": "C2", "promised_date": str(today)})
    assert created.status_code == 201, created.content
    assert collector.get("/credit/holds").status_code == 200


# -- pagination and updated_since ---------------------------------------------------------------


def test_promise_pages_are_stable_when_rows_are_inserted_between_pages(api, case, today):
    def add() -> Promise:
        return case_services.promise_add(
            customer=case["dupont"], promised_date=today, on=today, actor=_system()
        )

    first_ids = [add().pk for _ in range(5)]
    page1 = api.get("/promises", {"limit": 2}).json()
    inserted = add().pk
    seen = [item["id"] for item in page1["items"]]
    cursor = page1["next_cursor"]
    while cursor:
        page = api.get("/promises", {"limit": 2, "cursor": cursor}).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [*first_ids, inserted]  # nothing twice, nothing skipped, the new one at the end

    tampered = api.get("/promises", {"limit": 2, "cursor": page1["next_cursor"] + "x"})
    assert tampered.status_code == 422 and error_of(tampered)["code"] == "invalid_cursor"


def test_updated_since_lists_only_what_changed(api, case, today):
    old = case_services.contact_log(customer=case["dupont"], on=today, channel="call", actor=_system())
    new = case_services.contact_log(customer=case["zeta"], on=today, channel="email", actor=_system())
    long_ago = timezone.now() - timedelta(days=30)
    ContactLog.objects.filter(pk=old.pk).update(updated_at=long_ago)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert [i["id"] for i in api.get("/contact-log", {"updated_since": since}).json()["items"]] == [new.pk]
    assert len(api.get("/contact-log").json()["items"]) == 2

    note = api.post("/notes", {"customer_ref": "C1", "text": "Called, left a message"}).json()
    CustomerNote.objects.filter(pk=note["id"]).update(updated_at=long_ago)
    assert api.get("/notes", {"updated_since": since}).json()["items"] == []
    assert [i["id"] for i in api.get("/notes").json()["items"]] == [note["id"]]


# -- disputes -----------------------------------------------------------------------------------


def test_a_dispute_is_opened_and_resolved_through_the_service(api, case, today):
    opened = api.post("/disputes", {"invoice_ref": "INV-2", "reason_code": "quality", "amount": "50.25"})
    assert opened.status_code == 201, opened.content
    body = opened.json()
    assert body["amount"] == "50.25" and body["status"] == "open" and body["invoice_ref"] == "INV-2"
    too_much = api.post("/disputes", {"invoice_ref": "INV-2", "reason_code": "quality", "amount": "500"})
    assert too_much.status_code == 422 and "cannot dispute" in error_of(too_much)["message"]
    unknown = api.post("/disputes", {"invoice_ref": "INV-2", "reason_code": "mood"})
    assert unknown.status_code == 422 and "unknown dispute reason 'mood'" in error_of(unknown)["message"]

    resolved = api.post(f"/disputes/{body['id']}/resolve", {"resolution": "credit_note", "note": "CN-9"})
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolution"] == "credit_note"
    assert Dispute.objects.get(pk=body["id"]).resolved_on == today
    assert [i["id"] for i in api.get("/disputes", {"status": "resolved"}).json()["items"]] == [body["id"]]
    assert api.get("/disputes", {"status": "open"}).json()["items"] == []
    assert api.get("/disputes", {"invoice_ref": "INV-1"}).json()["items"] == []


# -- payment plans ------------------------------------------------------------------------------


def test_a_plan_is_created_with_its_installments_and_a_second_one_is_a_409(api, case, today):
    response = api.post(
        "/plans",
        {
            "customer_ref": "C1",
            "installments": 3,
            "first_due": str(today + timedelta(days=10)),
            "every_days": 30,
        },
    )
    assert response.status_code == 201, response.content
    plan = response.json()
    assert plan["total"] == "350.50" and plan["count"] == 3 and plan["paid"] == 0 and plan["state"] == "ok"
    amounts = [i["amount"] for i in plan["installments"]]
    assert amounts == ["116.84", "116.83", "116.83"]  # split without losing a cent (the service's rule)
    assert plan["next_due"] == str(today + timedelta(days=10))
    installments = api.get(f"/plans/{plan['id']}/installments").json()["items"]
    assert installments == plan["installments"]

    second = api.post("/plans", {"customer_ref": "C1", "installments": 2, "first_due": str(today)})
    assert second.status_code == 409 and "already has an active payment plan" in error_of(second)["message"]
    assert PaymentPlan.objects.count() == 1

    cancelled = api.post(f"/plans/{plan['id']}/cancel", {})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_a_schedule_past_the_calendar_is_a_422_not_a_500(api, case):
    response = api.post(
        "/plans", {"customer_ref": "C1", "installments": 120, "first_due": "9999-01-01", "every_days": 366}
    )
    assert response.status_code == 422
    assert error_of(response)["message"] == "the last installment would be due after 9999-12-31"


# -- credit holds -------------------------------------------------------------------------------


def test_a_credit_hold_is_placed_once_and_lifted(api, case, today):
    placed = api.post("/credit/holds", {"customer_ref": "C1", "reason": "over limit"})
    assert placed.status_code == 201, placed.content
    hold = placed.json()
    assert hold["status"] == "active" and hold["placed_on"] == str(today)
    kept = api.post("/credit/holds", {"customer_ref": "C1", "reason": "again"})
    assert (
        kept.status_code == 200 and kept.json()["id"] == hold["id"] and kept.json()["reason"] == "over limit"
    )

    lifted = api.post(f"/credit/holds/{hold['id']}/lift", {})
    assert lifted.status_code == 200 and lifted.json()["status"] == "released"
    assert lifted.json()["released_by"].startswith("token ")
    again = api.post(f"/credit/holds/{hold['id']}/lift", {})
    assert again.status_code == 422
    assert error_of(again)["message"] == f"credit hold {hold['id']} is released, not active"
    assert CreditHold.objects.get(pk=hold["id"]).released_on == today


# -- contacts log and notes ---------------------------------------------------------------------


def test_contacts_made_by_hand_and_notes_are_written_by_the_services(api, case, today, user):
    logged = api.post("/contact-log", {"customer_ref": "C1", "channel": "call", "note": "promised Friday"})
    assert logged.status_code == 201, logged.content
    assert logged.json()["created_by"] == "alice" and logged.json()["on"] == str(today)
    wrong = api.post("/contact-log", {"customer_ref": "C1", "channel": "pigeon"})
    assert wrong.status_code == 422 and "unknown channel 'pigeon'" in error_of(wrong)["message"]
    assert api.get(f"/contact-log/{logged.json()['id']}").json() == logged.json()

    blank = api.post("/notes", {"customer_ref": "C1", "text": "   "})
    assert blank.status_code == 422
    note = api.post("/notes", {"customer_ref": "C1", "text": "Disputes the freight"})
    assert note.status_code == 201
    assert CustomerNote.objects.get().text == "Disputes the freight"
    assert CaseEvent.objects.filter(customer=case["dupont"], kind="note_added").exists()
    assert [i["customer_ref"] for i in api.get("/notes", {"customer_ref": "C1"}).json()["items"]] == ["C1"]
    control = api.post("/notes", {"customer_ref": "C1", "text": "bad\u202etext"})
    assert control.status_code == 422


def test_amounts_are_decimal_strings_never_floats(api, case, today):
    created = api.post(
        "/promises",
        {"customer_ref": "C1", "promised_date": str(today), "invoice_refs": ["INV-1"], "amount": 0.1},
    )
    assert created.status_code == 201, created.content
    assert created.json()["amount"] == "0.10"
    assert Promise.objects.get().amount == Decimal("0.1")


def test_a_plan_whose_installment_was_paid_is_listed_as_updated(api, case, today):
    from relance.cases.models import Installment

    plan = case_services.plan_create(
        customer=case["dupont"], starts_on=today, installments=2, first_due=today, actor=_system()
    )
    long_ago = timezone.now() - timedelta(days=30)
    PaymentPlan.objects.filter(pk=plan.pk).update(updated_at=long_ago)
    Installment.objects.filter(plan=plan).update(updated_at=long_ago)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert api.get("/plans", {"updated_since": since}).json()["items"] == []
    first = Installment.objects.get(plan=plan, sequence=1)
    first.paid_on = today
    first.save(update_fields=["paid_on", "updated_at"])  # as plan_installments_settle does
    listed = api.get("/plans", {"updated_since": since}).json()["items"]
    assert [item["id"] for item in listed] == [plan.pk] and listed[0]["paid"] == 1
