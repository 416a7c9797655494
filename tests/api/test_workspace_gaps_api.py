"""What issue 18 left out of the API, now in it: the customer's case timeline, a dispute's comments
and owner, call tasks, worklist snoozes and saved views, the credit review queue, policies and the
audit log. Each is scoped like its page (another entity's or customer's id is a 404), permitted by
role like its page, cursor-paged and filtered by ``updated_since``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from relance.accounts.services import user_role_set
from relance.api.services import api_token_create
from relance.audit.services import audit_record
from relance.cases import services as case_services
from relance.core.actors import Actor
from relance.core.clock import SystemClock, zone
from relance.credit.models import CreditReview
from relance.delivery.models import CallTask
from relance.dunning.models import Policy
from relance.workspace import services as workspace_services
from relance.workspace.models import DisputeComment, SavedView, WorklistSnooze
from tests.api.conftest import ApiClient, error_of


@pytest.fixture
def today(entity):
    return SystemClock().today(zone(entity.timezone or None))


@pytest.fixture
def case(entity, other_entity, make_customer, make_invoice, today):
    dupont = make_customer("C1", name="Dupont SARL")
    zeta = make_customer("C2", name="Zeta GmbH")
    inv1 = make_invoice(dupont, "INV-1", "100.00", today - timedelta(days=60), today - timedelta(days=30))
    globex = make_customer("G1", entity=other_entity, currency="USD")
    g1 = make_invoice(globex, "G-1", "500.00", today - timedelta(days=40), today - timedelta(days=10))
    dispute = case_services.dispute_open(invoice=inv1, reason_code="pricing", on=today, actor=Actor.cli())
    foreign_dispute = case_services.dispute_open(
        invoice=g1, reason_code="pricing", on=today, actor=Actor.cli()
    )
    return {
        "dupont": dupont,
        "zeta": zeta,
        "globex": globex,
        "dispute": dispute,
        "foreign_dispute": foreign_dispute,
    }


def _member(role: str, entity, grant, username: str):
    member = get_user_model().objects.create_user(username, password="s3cret-pass")
    user_role_set(user=member, role=role)
    grant(user=member, entity=entity)
    return member


def _client(member) -> ApiClient:
    return ApiClient(api_token_create(user=member, name="tests")[1])


def _pages(api: ApiClient, path: str, params: dict) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        body = api.get(path, {**params, **({"cursor": cursor} if cursor else {})}).json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


# -- the case timeline --------------------------------------------------------------------------


def test_the_timeline_is_the_customer_pages_events_newest_first_and_paged(api, case, today):
    for text in ("first", "second", "third"):
        workspace_services.customer_note_add(customer=case["dupont"], text=text, actor=Actor.cli())
    body = api.get("/timeline", {"customer_ref": "C1"}).json()
    kinds = [item["kind"] for item in body["items"]]
    assert len(kinds) == 4 and "note" in kinds and "dispute" in kinds  # three notes, the dispute
    ids = [item["id"] for item in body["items"]]
    assert _pages(api, "/timeline", {"customer_ref": "C1", "limit": 3}) == [ids[:3], ids[3:]]
    assert api.get("/timeline", {"customer_ref": "C2"}).json() == {"items": [], "next_cursor": None}
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api.get("/timeline", {"customer_ref": "C1", "updated_since": later}).json()["items"] == []


def test_the_timeline_of_another_entitys_customer_or_with_a_foreign_cursor_is_refused(api, case):
    response = api.get("/timeline", {"customer_ref": "G1"})
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    for _ in range(2):
        workspace_services.customer_note_add(customer=case["zeta"], text="x", actor=Actor.cli())
    cursor = api.get("/timeline", {"customer_ref": "C2", "limit": 1}).json()["next_cursor"]
    response = api.get("/timeline", {"customer_ref": "C1", "cursor": cursor})
    assert response.status_code == 422 and error_of(response)["code"] == "invalid_cursor"


def test_a_collector_reads_the_timeline_and_another_entitys_member_does_not(
    case, entity, other_entity, grant
):
    colette = _client(_member("collector", entity, grant, "colette"))
    assert colette.get("/timeline", {"customer_ref": "C1"}).status_code == 200
    gus = _client(_member("collector", other_entity, grant, "gus"))
    assert gus.get("/timeline", {"customer_ref": "C1"}).status_code == 404
    assert gus.get("/timeline", {"customer_ref": "G1"}).status_code == 200


# -- dispute comments and owner -----------------------------------------------------------------


def test_a_dispute_comment_is_added_through_the_service_and_listed(api, case):
    dispute = case["dispute"]
    response = api.post(f"/disputes/{dispute.pk}/comments", {"text": "Asked sales for the price list"})
    assert response.status_code == 201, response.content
    assert response.json()["created_by"] == "alice" and response.json()["dispute_id"] == dispute.pk
    assert DisputeComment.objects.get().text == "Asked sales for the price list"
    items = api.get(f"/disputes/{dispute.pk}/comments").json()["items"]
    assert [item["text"] for item in items] == ["Asked sales for the price list"]
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api.get(f"/disputes/{dispute.pk}/comments", {"updated_since": later}).json()["items"] == []
    blank = api.post(f"/disputes/{dispute.pk}/comments", {"text": "   "})
    assert blank.status_code == 422 and DisputeComment.objects.count() == 1


def test_another_entitys_dispute_has_no_comments_or_owner_to_read_or_write(api, case):
    foreign = case["foreign_dispute"].pk
    for response in (
        api.get(f"/disputes/{foreign}/comments"),
        api.post(f"/disputes/{foreign}/comments", {"text": "hello"}),
        api.get(f"/disputes/{foreign}/owner"),
        api.put(f"/disputes/{foreign}/owner", {"owner": None}),
    ):
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    assert DisputeComment.objects.count() == 0


def test_a_dispute_is_given_to_a_collector_of_its_entity_and_back_to_nobody(api, case, entity, grant):
    dispute = case["dispute"]
    _member("collector", entity, grant, "colette")
    assert api.get(f"/disputes/{dispute.pk}/owner").json()["owner"] is None
    response = api.put(f"/disputes/{dispute.pk}/owner", {"owner": "colette"})
    assert response.status_code == 200, response.content
    assert response.json()["owner"] == "colette" and response.json()["assigned_by"] == "alice"
    assert api.get(f"/disputes/{dispute.pk}/owner").json()["owner"] == "colette"
    unknown = api.put(f"/disputes/{dispute.pk}/owner", {"owner": "mallory"})
    assert unknown.status_code == 422 and "mallory" in error_of(unknown)["message"]
    assert api.put(f"/disputes/{dispute.pk}/owner", {"owner": None}).json()["owner"] is None


def test_read_only_roles_read_comments_and_owners_but_write_neither(case, entity, grant):
    auditor = _client(_member("auditor", entity, grant, "audrey"))
    dispute = case["dispute"].pk
    assert auditor.get(f"/disputes/{dispute}/comments").status_code == 200
    assert auditor.get(f"/disputes/{dispute}/owner").status_code == 200
    assert auditor.post(f"/disputes/{dispute}/comments", {"text": "x"}).status_code == 403
    assert auditor.put(f"/disputes/{dispute}/owner", {"owner": None}).status_code == 403


# -- call tasks ---------------------------------------------------------------------------------


def _call_task(customer, due_on, **fields) -> CallTask:
    return CallTask.objects.create(entity=customer.entity, customer=customer, due_on=due_on, **fields)


def test_call_tasks_are_listed_and_completed_through_the_service(api, case, user, today):
    due = _call_task(case["dupont"], today, assigned_to=user, phone="+33100000000")
    call_back = _call_task(case["dupont"], today + timedelta(days=5))  # asked for by hand: no message
    other = _call_task(case["zeta"], today)
    foreign = _call_task(case["globex"], today)
    ids = [item["id"] for item in api.get("/call-tasks").json()["items"]]
    assert ids == [due.pk, call_back.pk, other.pk] and foreign.pk not in ids
    assert [i["id"] for i in api.get("/call-tasks", {"mine": "true"}).json()["items"]] == [due.pk]
    response = api.post("/call-tasks/complete", {"customer_ref": "C1", "outcome": "reached", "note": "ok"})
    assert response.status_code == 200, response.content
    # the service's rule: those due by today, and every call back asked for by hand, whatever its day
    assert response.json() == {"customer_ref": "C1", "closed": 2}
    for task in (due, call_back, other):
        task.refresh_from_db()
    assert (due.status, due.outcome, due.outcome_note) == ("done", "reached", "ok")
    assert call_back.status == "done" and other.status == "open"
    done = api.get("/call-tasks", {"status": "done"}).json()["items"]
    assert [item["id"] for item in done] == [due.pk, call_back.pk] and done[0]["completed_at"] is not None
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api.get("/call-tasks", {"updated_since": later}).json()["items"] == []


def test_completing_call_tasks_checks_the_outcome_the_customer_and_the_role(api, case, entity, grant, today):
    _call_task(case["globex"], today)
    response = api.post("/call-tasks/complete", {"customer_ref": "G1", "outcome": "reached"})
    assert response.status_code == 404
    response = api.post("/call-tasks/complete", {"customer_ref": "C1", "outcome": "shouted"})
    assert response.status_code == 422 and "outcome" in str(error_of(response))
    support = _client(_member("support", entity, grant, "sam"))
    assert support.get("/call-tasks").status_code == 200
    assert (
        support.post("/call-tasks/complete", {"customer_ref": "C1", "outcome": "reached"}).status_code == 403
    )


# -- worklist snoozes ---------------------------------------------------------------------------


def test_a_snooze_is_made_listed_moved_and_ended_by_its_owner_only(api, case, user, entity, grant, today):
    response = api.post("/snoozes", {"customer_ref": "C1", "until": str(today + timedelta(days=3))})
    assert response.status_code == 201, response.content
    snooze_id = response.json()["id"]
    again = api.post("/snoozes", {"customer_ref": "C1", "until": str(today + timedelta(days=9))})
    assert again.json()["id"] == snooze_id and again.json()["until"] == str(today + timedelta(days=9))
    assert [item["id"] for item in api.get("/snoozes").json()["items"]] == [snooze_id]
    past = api.post("/snoozes", {"customer_ref": "C1", "until": str(today - timedelta(days=1))})
    assert past.status_code == 422
    assert api.post("/snoozes", {"customer_ref": "G1", "until": str(today)}).status_code == 404
    colette = _client(_member("collector", entity, grant, "colette"))
    assert colette.get("/snoozes").json()["items"] == []  # nobody sees another's snoozes
    assert colette.delete(f"/snoozes/{snooze_id}").status_code == 404
    assert api.delete(f"/snoozes/{snooze_id}").status_code == 204
    assert not WorklistSnooze.objects.exists()
    assert api.delete(f"/snoozes/{snooze_id}").status_code == 404


def test_snoozes_sync_with_updated_since(api, case, today):
    api.post("/snoozes", {"customer_ref": "C1", "until": str(today)})
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api.get("/snoozes", {"updated_since": later}).json()["items"] == []
    WorklistSnooze.objects.update(updated_at=timezone.now() + timedelta(hours=2))
    assert len(api.get("/snoozes", {"updated_since": later}).json()["items"]) == 1


# -- saved views --------------------------------------------------------------------------------


def test_a_saved_view_is_saved_with_the_pages_parameters_listed_and_deleted(api, entity, grant, other_entity):
    body = {"name": "My 90+ EUR", "params": {"currency": "EUR", "min_days": "90", "evil": "1"}}
    response = api.post("/saved-views", body)
    assert response.status_code == 201, response.content
    view = response.json()
    assert view["params"] == {"currency": "EUR", "min_days": "90"}  # the page's whitelist
    assert api.post("/saved-views", body).status_code == 422  # the name is taken
    assert [item["name"] for item in api.get("/saved-views").json()["items"]] == ["My 90+ EUR"]
    colette = _client(_member("collector", entity, grant, "colette"))
    assert colette.get("/saved-views").json()["items"] == []
    assert colette.delete(f"/saved-views/{view['id']}").status_code == 404
    assert api.delete(f"/saved-views/{view['id']}").status_code == 204
    assert not SavedView.objects.exists()


def test_a_saved_view_of_another_entity_is_not_found_in_this_one(api, user, entity, other_entity, grant):
    grant(user=user, entity=other_entity)
    view = workspace_services.saved_view_save(user=user, entity=other_entity, name="Globex", params={})
    assert api.get("/saved-views", {"entity": "acme"}).json()["items"] == []
    response = api.client.delete(
        f"/api/v1/saved-views/{view.pk}?entity=acme", headers={"Authorization": f"Bearer {api.secret}"}
    )
    assert response.status_code == 404 and SavedView.objects.count() == 1


# -- the credit review queue --------------------------------------------------------------------


def _review(customer, today, exposure: str) -> CreditReview:
    return CreditReview.objects.create(
        entity=customer.entity,
        customer=customer,
        opened_on=today,
        proposal="reduce_limit",
        proposed_limit=Decimal("1000"),
        currency=customer.currency,
        basis={"exposure": exposure},
        triggers=[{"code": "late", "text": "paid late", "facts": {}}],
    )


def test_the_credit_review_queue_is_listed_for_those_who_may_read_reviews(api, case, entity, grant, today):
    mine = _review(case["dupont"], today, "1200.5")
    _review(case["globex"], today, "9")
    items = api.get("/credit/reviews").json()["items"]
    assert [item["id"] for item in items] == [mine.pk]
    assert items[0]["exposure"] == "1200.50" and items[0]["proposed_limit"] == "1000.00"
    mine.status = "accepted"
    mine.save(update_fields=["status", "updated_at"])
    assert api.get("/credit/reviews").json()["items"] == []
    assert [i["id"] for i in api.get("/credit/reviews", {"status": "all"}).json()["items"]] == [mine.pk]
    sales = _client(_member("sales", entity, grant, "sally"))
    assert sales.get("/credit/reviews").status_code == 403  # the sales role may not use the API


# -- policies -----------------------------------------------------------------------------------


SPEC = {"key": "standard", "name": "Standard", "steps": [{"key": "reminder_1", "offset_days": 7}]}


def test_policies_are_read_with_their_steps_and_another_entitys_is_not_found(api, entity, other_entity):
    Policy.objects.create(entity=entity, key="standard", name="Standard", spec=SPEC)
    Policy.objects.create(
        entity=other_entity, key="globex-only", name="G", spec={**SPEC, "key": "globex-only"}
    )
    items = api.get("/policies").json()["items"]
    assert [item["key"] for item in items] == ["standard"]
    assert items[0]["steps"] == [{"key": "reminder_1", "offset_days": 7}] and items[0]["version"] == 1
    assert api.get("/policies/standard").json()["name"] == "Standard"
    response = api.get("/policies/globex-only")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


# -- the audit log ------------------------------------------------------------------------------


def test_the_audit_log_is_for_auditors_and_admins_and_scoped_to_the_entity(entity, other_entity, grant):
    audit_record(action="update", actor_label="cli:bob", entity=entity, object_type="ledger.customer")
    audit_record(action="update", actor_label="cli:bob", entity=other_entity, object_type="ledger.customer")
    auditor = _client(_member("auditor", entity, grant, "audrey"))
    items = auditor.get("/audit-events").json()["items"]
    assert [item["entity"] for item in items] == ["acme"] and items[0]["actor"] == "cli:bob"
    assert auditor.get("/audit-events", {"action": "delete"}).json()["items"] == []
    response = auditor.get("/audit-events", {"entity": "globex"})
    assert response.status_code == 404 and error_of(response)["code"] == "entity_not_found"
    collector = _client(_member("collector", entity, grant, "colette"))
    assert collector.get("/audit-events").status_code == 403
