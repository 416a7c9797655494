"""What keeps the worklist and the customer page cheap: bounded queries, paged open items,
permissions read once per request (and seen anew after a change), rows written in Python."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from relance.core.actors import SYSTEM, Actor
from relance.ledger.models import Invoice
from relance.workspace.selectors import OPEN_ITEMS_PAGE

# Bounds, not timings: what each page asks the database, whatever the ledger's size.
WORKLIST_MAX_QUERIES = 16  # 8, + the row count (every row is paged) + the segment and currency choices
# + the calls to make + the last contacts ("contacted today": hand-logged and run) + the saved views
# + the entity's latest prediction run (next best action; with one, + the rows' why: 17)
CUSTOMER_MAX_QUERIES = 29  # profile, contacts, open items (page + totals), history, timeline (1 query), holds, open credit review,
# what is owed (invoices, disputes, payments, credit notes: read once for the unapplied credit and the send-time answer),
# the entity's latest prediction run (with one, + its rows for the panel: 30),
# the data-quality card (the customer's and its contacts' facts: 2, read again rather than passed in — to fold)
MANY = OPEN_ITEMS_PAGE * 2 + 20  # three pages of open items


def _many_open_items(customer, today, count=MANY):
    """``count`` open invoices, INV-M000 due first; every other one overdue."""
    Invoice.objects.bulk_create(
        Invoice(
            entity=customer.entity,
            customer=customer,
            external_ref=f"INV-M{n:03d}",
            issue_date=today - timedelta(days=400 - n),
            due_date=today - timedelta(days=300 - 3 * n),
            currency=customer.currency,
            amount=Decimal("10.50") + n,
        )
        for n in range(count)
    )


def _open_rows(html: str) -> list[str]:
    table = html.split('id="open-items"')[1].split("</table>")[0]
    return [cell.split("</td>")[0] for cell in table.split("<tr><td>")[1:]]


def test_worklist_queries_are_bounded(ws, client_for, django_assert_max_num_queries):
    for user in (ws.ana, ws.manager):
        client = client_for(user)
        client.get(reverse("workspace:worklist"))
        with django_assert_max_num_queries(WORKLIST_MAX_QUERIES):
            assert client.get(reverse("workspace:worklist")).status_code == 200


def test_customer_page_queries_do_not_grow_with_open_items(ws, client_for):
    client = client_for(ws.ana)
    url = reverse("workspace:customer", args=[ws.late.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    _many_open_items(ws.late, ws.today)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(few) <= CUSTOMER_MAX_QUERIES
    # more than a page: one aggregate for the totals and one light read for the next steps
    assert len(many) <= len(few) + 2


def test_page_views_do_not_write_the_session_each_time(ws, client_for):
    client = client_for(ws.ana)
    client.get(reverse("workspace:worklist"))
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("workspace:worklist"))
        client.get(reverse("workspace:customer", args=[ws.late.pk]))
    assert not [
        q for q in queries.captured_queries if q["sql"].startswith("UPDATE") and "session" in q["sql"]
    ]


def test_customer_page_shows_the_first_page_and_totals_of_all_open_items(ws, client_for):
    from relance.ledger.selectors import customer_open_items

    _many_open_items(ws.late, ws.today)
    every = customer_open_items(customer=ws.late, as_of=ws.today)
    assert len(every) == MANY + 2
    html = client_for(ws.ana).get(reverse("workspace:customer", args=[ws.late.pk])).content.decode()
    assert _open_rows(html) == [item.external_ref for item in every[:OPEN_ITEMS_PAGE]]
    assert f"the first {OPEN_ITEMS_PAGE} of {MANY + 2}" in html
    total = sum(item.open_amount for item in every)
    overdue = sum(item.open_amount for item in every if item.days_past_due > 0)
    facts = html.split('class="facts"')[1]
    assert f"€{total:,.2f}" in facts.split("<dt>Overdue")[0]
    assert f"€{overdue:,.2f}" in facts.split("<dt>Overdue")[1].split("<dt>")[0]
    more = reverse("workspace:customer_items", args=[ws.late.pk])
    assert f'href="{more}?page=2"' in html and "Show more open items" in html


def test_show_more_pages_through_every_open_item(ws, client_for):
    from relance.ledger.selectors import customer_open_items

    _many_open_items(ws.late, ws.today)
    every = [item.external_ref for item in customer_open_items(customer=ws.late, as_of=ws.today)]
    client = client_for(ws.ana)
    url = reverse("workspace:customer_items", args=[ws.late.pk])
    page2 = client.get(url, {"page": 2}).content.decode()
    assert _open_rows(page2) == every[OPEN_ITEMS_PAGE : 2 * OPEN_ITEMS_PAGE]
    assert f"{url}?page=3" in page2 and "Previous" in page2
    fragment = client.get(url, {"page": 3, "fragment": 1}).content.decode()
    assert "<html" not in fragment and "data-next" not in fragment  # the last page
    rows = [cell.split("</td>")[0] for cell in fragment.split("<tr><td>")[1:]]
    assert rows == every[2 * OPEN_ITEMS_PAGE :]
    fragment2 = client.get(url, {"page": 2, "fragment": 1}).content.decode()
    assert f'data-next="{url}?fragment=1&amp;page=3"' in fragment2


def test_open_items_pages_are_scoped_like_the_customer_page(ws, client_for):
    url = reverse("workspace:customer_items", args=[ws.globex_customer.pk])
    assert client_for(ws.ana).get(url).status_code == 404
    assert client_for(ws.globex_manager).get(url).status_code == 200


def test_next_steps_read_every_open_item_not_only_the_first_page(ws):
    from relance.ledger.selectors import customer_open_items
    from relance.workspace.selectors import next_steps, open_item_keys

    _many_open_items(ws.late, ws.today)
    full = next_steps(
        customer=ws.late, open_items=customer_open_items(customer=ws.late, as_of=ws.today), today=ws.today
    )
    light = next_steps(
        customer=ws.late, open_items=open_item_keys(customer=ws.late, as_of=ws.today), today=ws.today
    )
    assert light == full and len(full) > OPEN_ITEMS_PAGE


def test_a_role_change_is_seen_by_the_next_request_and_at_once_on_the_same_object(ws, client_for):
    from relance.accounts.selectors import user_can, user_role
    from relance.accounts.services import user_role_set

    client = client_for(ws.ana)
    html = client.get(reverse("workspace:worklist")).content.decode()
    assert 'value="assign"' not in html  # a collector cannot assign
    assert not user_can(ws.ana, "ledger.change_customer") and user_role(ws.ana) == "collector"
    user_role_set(user=ws.ana, role="credit_manager")
    assert user_can(ws.ana, "ledger.change_customer") and user_role(ws.ana) == "credit_manager"
    html = client.get(reverse("workspace:worklist")).content.decode()
    assert 'value="assign"' in html
    user_role_set(user=ws.ana, role="auditor")
    assert (
        client.post(reverse("workspace:customer_note", args=[ws.late.pk]), {"text": "x"}).status_code == 403
    )


def test_a_revoked_grant_is_seen_by_the_next_request(ws, client_for):
    from relance.accounts.services import entity_access_revoke

    client = client_for(ws.ana)
    url = reverse("workspace:customer", args=[ws.late.pk])
    assert client.get(url).status_code == 200
    entity_access_revoke(user=ws.ana, entity=ws.acme)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("role", ["collector", "credit_manager", "auditor", "sales", "support", "admin"])
def test_permissions_in_one_query_equal_role_and_model_backend_permissions(db, entity, role):
    from django.contrib.auth.models import Group, Permission

    from relance.accounts.selectors import _permissions, access_memo_clear, role_permissions
    from relance.accounts.services import user_create

    user = user_create(email=f"{role}@acme.test", role=role, entity_names=[entity.name], password="x" * 12)
    extra = Group.objects.create(name="reporting")
    extra.permissions.add(Permission.objects.get(codename="view_auditevent"))
    user.groups.add(extra)
    user.user_permissions.add(Permission.objects.get(codename="delete_invoice"))
    access_memo_clear(user)
    assert _permissions(user) == role_permissions(role) | frozenset(user.get_all_permissions())
    assert {"audit.view_auditevent", "ledger.delete_invoice"} <= _permissions(user)


def test_records_present_lets_the_page_skip_only_kinds_the_customer_does_not_have(ws, client_for):
    from relance.cases.models import ContactLog, CreditHold, CreditHoldStatus, CustomerHold
    from relance.cases.services import promise_add
    from relance.workspace.selectors import customer_records_present
    from relance.workspace.services import customer_note_add

    assert customer_records_present(customer=ws.late) == frozenset()
    customer_note_add(actor=Actor.user(ws.ana), customer=ws.late, text="called")
    promise_add(
        actor=SYSTEM,
        customer=ws.late,
        promised_date=ws.today + timedelta(days=3),
        on=ws.today,
        amount=Decimal("100"),
    )
    ContactLog.objects.create(entity=ws.acme, customer=ws.late, on=ws.today, channel="call", note="rang")
    CustomerHold.objects.create(
        entity=ws.acme, customer=ws.late, kind="legal", reason="lawyer", starts_on=ws.today
    )
    credit = CreditHold.objects.create(
        entity=ws.acme, customer=ws.late, status=CreditHoldStatus.RELEASED, placed_on=ws.today
    )
    present = customer_records_present(customer=ws.late)
    # the timeline is one query on the case events: only holds and credit holds are asked about
    assert present == {"hold"}  # a released credit hold is not in force
    assert customer_records_present(customer=ws.second) == frozenset()
    CreditHold.objects.filter(pk=credit.pk).update(status=CreditHoldStatus.ACTIVE)
    assert "credit_hold" in customer_records_present(customer=ws.late)
    html = client_for(ws.ana).get(reverse("workspace:customer", args=[ws.late.pk])).content.decode()
    assert "Credit hold since" in html and "On legal since" in html and "lawyer" in html


def test_a_grant_or_revoke_is_seen_at_once_on_the_same_user_object(ws):
    from relance.accounts.selectors import entity_list_for_user, user_can
    from relance.accounts.services import entity_access_grant, entity_access_revoke

    assert entity_list_for_user(ws.ana) == [ws.acme]  # memoised for the request from here
    assert not user_can(ws.ana, "cases.add_contactlog", ws.globex_customer)
    entity_access_grant(user=ws.ana, entity=ws.globex)
    assert entity_list_for_user(ws.ana) == [ws.acme, ws.globex]
    assert user_can(ws.ana, "cases.add_contactlog", ws.globex_customer)
    entity_access_revoke(user=ws.ana, entity=ws.acme)
    assert not user_can(ws.ana, "cases.add_contactlog", ws.late)
