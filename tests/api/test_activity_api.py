"""Messages and the outbox, runs and their actions, and the worklist over the API (issue 18)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from relance.accounts.services import user_role_set
from relance.api.services import api_token_create
from relance.core.clock import SystemClock, zone
from relance.delivery.models import OutboundMessage
from relance.dunning.models import DunningAction, DunningRun, WorklistEntry
from relance.workspace.selectors import WorklistFilters, worklist_entries, worklist_row
from tests.api.conftest import ApiClient, error_of


@pytest.fixture
def today(entity):
    return SystemClock().today(zone(entity.timezone or None))


def _run(entity, as_of) -> DunningRun:
    now = timezone.now()
    return DunningRun.objects.create(
        entity=entity, as_of=as_of, started_at=now, finished_at=now, counts={"decisions": 1}
    )


def _message(customer, key: str, status: str = "queued", run=None) -> OutboundMessage:
    now = timezone.now()
    return OutboundMessage.objects.create(
        idempotency_key=key,
        message_id=f"<{key}@relance.test>",
        entity=customer.entity,
        customer=customer,
        run=run,
        channel="email",
        template_key="overdue_1",
        language="en",
        recipient="ap@example.com",
        subject="Your invoice",
        body_text="Please pay",
        status=status,
        next_attempt_at=now,
        queued_at=now,
        amount_due=Decimal("120.5"),
        currency="EUR",
    )


def _action(run, customer, invoice) -> DunningAction:
    action = DunningAction.objects.create(
        run=run,
        entity=run.entity,
        customer=customer,
        on=run.as_of,
        kind="overdue",
        policy_key="standard",
        step_key="reminder_1",
        step_index=0,
        offset_days=7,
        action="send",
        channel="email",
        is_contact=True,
        template_key="overdue_1",
        currency="EUR",
        amount_due=Decimal("100"),
        invoice_count=1,
        max_days_past_due=30,
        reasons=["30 days past due"],
    )
    action.invoices.set([invoice])
    return action


@pytest.fixture
def activity(entity, other_entity, make_customer, make_invoice, today):
    dupont = make_customer("C1", name="Dupont SARL")
    zeta = make_customer("C2", name="Zeta GmbH")
    globex = make_customer("G1", entity=other_entity, currency="USD")
    invoice = make_invoice(dupont, "INV-1", "100.00", today - timedelta(days=60), today - timedelta(days=30))
    run = _run(entity, today)
    foreign_run = _run(other_entity, today)
    return {
        "dupont": dupont,
        "zeta": zeta,
        "globex": globex,
        "run": run,
        "foreign_run": foreign_run,
        "action": _action(run, dupont, invoice),
        "sent": _message(dupont, "m1", "sent", run=run),
        "queued": _message(zeta, "m2"),
        "foreign": _message(globex, "g1"),
    }


# -- messages -----------------------------------------------------------------------------------


def test_messages_are_listed_filtered_and_read_with_their_events(api, activity):
    items = api.get("/messages").json()["items"]
    assert [item["id"] for item in items] == [activity["sent"].pk, activity["queued"].pk]
    assert items[0]["amount_due"] == "120.5000" and items[0]["currency"] == "EUR"
    assert [i["id"] for i in api.get("/messages", {"status": "queued"}).json()["items"]] == [
        activity["queued"].pk
    ]
    assert [i["id"] for i in api.get("/messages", {"customer_ref": "C1"}).json()["items"]] == [
        activity["sent"].pk
    ]
    assert [i["id"] for i in api.get("/messages", {"run_id": activity["run"].pk}).json()["items"]] == [
        activity["sent"].pk
    ]
    one = api.get(f"/messages/{activity['sent'].pk}").json()
    assert one["status"] == "sent" and one["body_text"] == "Please pay" and one["events"] == []
    assert api.get(f"/messages/{activity['foreign'].pk}").status_code == 404


def test_the_outbox_state_counts_the_entitys_messages_by_status(api, activity):
    body = api.get("/outbox").json()
    assert body["entity"] == "acme" and body["counts"] == {"queued": 1, "sent": 1}
    assert body["due"] >= 1


def test_messages_updated_since(api, activity):
    OutboundMessage.objects.filter(pk=activity["sent"].pk).update(
        updated_at=timezone.now() - timedelta(days=9)
    )
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert [i["id"] for i in api.get("/messages", {"updated_since": since}).json()["items"]] == [
        activity["queued"].pk
    ]


# -- runs ---------------------------------------------------------------------------------------


def test_runs_and_their_actions(api, activity):
    runs = api.get("/runs").json()["items"]
    assert [run["id"] for run in runs] == [activity["run"].pk] and runs[0]["counts"] == {"decisions": 1}
    assert api.get(f"/runs/{activity['run'].pk}").json()["as_of"] == str(activity["run"].as_of)
    actions = api.get(f"/runs/{activity['run'].pk}/actions").json()["items"]
    assert len(actions) == 1
    assert actions[0]["customer_ref"] == "C1" and actions[0]["invoice_refs"] == ["INV-1"]
    assert actions[0]["step"] == "reminder_1" and actions[0]["status"] == "queued"
    assert api.get(f"/runs/{activity['foreign_run'].pk}").status_code == 404
    assert api.get(f"/runs/{activity['foreign_run'].pk}/actions").status_code == 404


def test_a_role_without_view_permission_on_runs_is_refused(activity, entity, grant):
    from django.contrib.auth import get_user_model

    sam = get_user_model().objects.create_user("sam", password="s3cret-pass")
    user_role_set(user=sam, role="sales")
    grant(user=sam, entity=entity)
    sales = ApiClient(api_token_create(user=sam, name="t")[1])
    for path in ("/runs", "/messages", "/worklist", "/outbox"):
        response = sales.get(path)
        assert response.status_code == 403, path
        assert error_of(response)["code"] == "forbidden"


# -- the worklist -------------------------------------------------------------------------------


@pytest.fixture
def worklist(entity, make_customer, activity):
    run = activity["run"]
    customers = [make_customer(f"W{n}", name=f"Customer W{n}") for n in range(7)]
    for position, customer in enumerate(customers):
        WorklistEntry.objects.create(
            run=run,
            customer=customer,
            currency="EUR",
            priority=10.0 * (position % 4) + 0.123,  # ties: broken by the customer's ref
            overdue_amount=Decimal(100 * position),
            max_days_past_due=position,
            broken_promises=0,
            factors={"overdue": position},
        )
    return customers


def test_the_worklist_has_the_pages_order_and_points(api, worklist, user, entity, today):
    body = api.get("/worklist").json()
    _, entries = worklist_entries(user=user, entity=entity, today=today, filters=WorklistFilters())
    page_rows = [worklist_row(row) for row in entries]
    assert [(i["customer_ref"], i["priority"]) for i in body["items"]] == [
        (row.customer_ref, row.priority) for row in page_rows
    ]
    assert [i["rank"] for i in body["items"]] == list(range(1, 8))
    assert [i["customer_ref"] for i in body["items"]] == ["W3", "W2", "W6", "W1", "W5", "W0", "W4"]
    assert body["items"][0]["overdue_amount"] == "300.00" and body["items"][0]["priority"] == 30.12
    assert body["run"] == {"id": body["run"]["id"], "as_of": str(today)}
    by_days = api.get("/worklist", {"sort": "days"}).json()["items"]
    assert [i["max_days_past_due"] for i in by_days] == [6, 5, 4, 3, 2, 1, 0]
    assert [i["customer_ref"] for i in api.get("/worklist", {"min_days": 5}).json()["items"]] == ["W6", "W5"]


def test_worklist_pages_follow_each_other_and_a_new_run_makes_the_cursor_stale(api, worklist, entity, today):
    everything = [i["customer_ref"] for i in api.get("/worklist").json()["items"]]
    seen, cursor = [], None
    while True:
        page = api.get("/worklist", {"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [i["customer_ref"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == everything
    first = api.get("/worklist", {"limit": 3}).json()
    other_sort = api.get("/worklist", {"limit": 3, "sort": "days", "cursor": first["next_cursor"]})
    assert other_sort.status_code == 422 and error_of(other_sort)["code"] == "invalid_cursor"
    _run(entity, today + timedelta(days=1))  # tomorrow's run: a new worklist
    stale = api.get("/worklist", {"limit": 3, "cursor": first["next_cursor"]})
    assert stale.status_code == 422 and error_of(stale)["code"] == "invalid_cursor"


def test_a_collector_gets_their_own_accounts(worklist, entity, grant):
    from django.contrib.auth import get_user_model

    colette = get_user_model().objects.create_user("colette", password="s3cret-pass")
    user_role_set(user=colette, role="collector")
    grant(user=colette, entity=entity)
    for customer in worklist[:2]:
        customer.collector = colette
        customer.save(update_fields=["collector"])
    collector = ApiClient(api_token_create(user=colette, name="t")[1])
    refs = sorted(i["customer_ref"] for i in collector.get("/worklist").json()["items"])
    assert refs == ["W0", "W1"]


def test_no_run_yet_is_an_empty_worklist(api, entity):
    assert api.get("/worklist").json() == {"run": None, "items": [], "next_cursor": None}


def test_every_api_path_names_a_resource_whose_permission_is_checked():
    """A new endpoint outside ``API_RESOURCES`` would be checked for read-only roles only: every
    path of the OpenAPI document must name a model (``relance.accounts.api_access``)."""
    from relance.accounts.api_access import api_target
    from relance.api.api import api as ninja_api

    unmodelled = {"openapi.json", "docs", "tokens"}
    paths = ninja_api.get_openapi_schema()["paths"]
    missing = sorted(
        path
        for path in paths
        if (target := api_target(path)) is not None
        and target.model is None
        and target.resource not in unmodelled
    )
    assert missing == []
    assert {
        "/api/v1/worklist",
        "/api/v1/notes",
        "/api/v1/credit/holds",
        "/api/v1/runs/{run_id}/actions",
    } <= set(paths)


def test_notes_of_another_entitys_customer_are_404(api, activity):
    response = api.post("/notes", {"customer_ref": "G1", "text": "hello"})
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


# -- dunning holds ------------------------------------------------------------------------------


def test_an_im_on_it_hold_is_requested_listed_and_lifted_through_the_workspace_services(api, activity, today):
    from relance.cases.models import CustomerHold

    created = api.post("/holds", {"customer_ref": "C1", "reason": "talking to their CFO", "days": 5})
    assert created.status_code == 201, created.content
    hold = created.json()
    assert hold["starts_on"] == str(today) and hold["ends_on"] == str(today + timedelta(days=5))
    assert hold["reason"].endswith("talking to their CFO") and hold["in_force"] is True
    too_long = api.post("/holds", {"customer_ref": "C1", "reason": "x", "days": 10_000})
    assert too_long.status_code == 422
    assert [item["id"] for item in api.get("/holds", {"customer_ref": "C1"}).json()["items"]] == [hold["id"]]

    lifted = api.post(f"/holds/{hold['id']}/lift", {})
    assert lifted.status_code == 200, lifted.content
    assert CustomerHold.objects.get(pk=hold["id"]).ends_on < today + timedelta(days=5)
    foreign = CustomerHold.objects.create(
        entity=activity["globex"].entity,
        customer=activity["globex"],
        kind="hold",
        reason="x",
        starts_on=today,
    )
    assert api.post(f"/holds/{foreign.pk}/lift", {}).status_code == 404
    assert api.post("/holds", {"customer_ref": "G1", "reason": "x", "days": 1}).status_code == 404
