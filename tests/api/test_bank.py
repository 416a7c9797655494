"""``POST /api/v1/bank/statements`` and ``GET /api/v1/bank/lines``: the import's rules over HTTP,
lines paged and scoped to the token's entity (another entity's line is a 404)."""

from __future__ import annotations

from typing import Any

import pytest

from relance.cashapp.models import BankLine
from relance.cashapp.services import bank_account_add, bank_statement_import
from tests.api.conftest import ApiClient, error_of
from tests.cashapp.samples import Entry, Statement, camt

pytestmark = pytest.mark.django_db

DOCUMENT = camt(
    2,
    Statement(
        "S-1",
        entries=(
            Entry("1405.31", servicer_ref="A-1", unstructured="INV-2026-0001"),
            Entry("754.25", sign="DBIT", servicer_ref="A-2"),
            Entry("20.00", servicer_ref="A-3"),
        ),
    ),
)


def upload(api: ApiClient, body: bytes, **params: str) -> Any:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return api.client.post(
        "/api/v1/bank/statements" + (f"?{query}" if query else ""),
        body,
        content_type="application/xml",
        headers=api._headers({}),
    )


@pytest.fixture
def linked(entity):
    return bank_account_add(entity=entity, account="NL77ABNA0574908765", currency="EUR")


@pytest.fixture
def credit_manager(user):
    from relance.accounts.services import user_role_set

    user_role_set(user=user, role="credit_manager")
    return user


def test_upload_then_again_adds_nothing(api, credit_manager, linked) -> None:
    response = upload(api, DOCUMENT, filename="day1.xml")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["format"], body["lines_added"], body["statements_created"]) == ("camt053", 3, 1)
    assert body["source"] == "day1.xml"
    again = upload(api, DOCUMENT, filename="day1.xml").json()
    assert (again["lines_added"], again["lines_known"]) == (0, 3)
    assert BankLine.objects.count() == 3


def test_upload_malformed_is_422_with_entry_and_line(api, credit_manager, linked) -> None:
    bad = DOCUMENT.replace(b">20.00<", b">2O.00<")
    response = upload(api, bad, filename="bad.xml")
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "statement_invalid"
    assert error["details"] == [
        {
            "field": "statement S-1, entry 3: Amt",
            "message": "expected an amount such as 1405.31 with a currency (Ccy), found '2O.00'",
            "index": 7,
        }
    ]
    assert not BankLine.objects.exists()


def test_upload_for_an_account_not_linked_is_refused(api, credit_manager) -> None:
    response = upload(api, DOCUMENT)
    assert response.status_code == 422
    (detail,) = error_of(response)["details"]
    assert detail["field"] == "statement S-1: account"
    assert "relance bank account add NL77ABNA0574908765 --currency EUR" in detail["message"]
    assert not BankLine.objects.exists()


def test_upload_needs_a_role_that_may_import(api, user, linked) -> None:
    from relance.accounts.services import user_role_set

    user_role_set(user=user, role="collector")
    response = upload(api, DOCUMENT)
    assert response.status_code == 403
    assert not BankLine.objects.exists()


def test_lines_paged_and_filtered(api, credit_manager, entity, linked, tmp_path) -> None:
    path = tmp_path / "s.xml"
    path.write_bytes(DOCUMENT)
    bank_statement_import(entity=entity, path=path)
    first = api.get("/bank/lines", {"limit": 2}).json()
    assert [line["bank_ref"] for line in first["items"]] == ["A-1", "A-2"]
    second = api.get("/bank/lines", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [line["bank_ref"] for line in second["items"]] == ["A-3"] and second["next_cursor"] is None
    unmatched = api.get("/bank/lines", {"status": "unmatched"}).json()["items"]
    assert [line["bank_ref"] for line in unmatched] == ["A-1", "A-3"]
    line = unmatched[0]
    assert {
        key: line[key] for key in ("amount", "currency", "date", "status", "allocations", "suggestions")
    } == {
        "amount": "1405.31",
        "currency": "EUR",
        "date": "2026-12-04",
        "status": "unmatched",
        "allocations": [],
        "suggestions": [],
    }
    assert api.get(f"/bank/lines/{line['id']}").json()["bank_ref"] == "A-1"


def test_another_entitys_line_is_404(api, credit_manager, other_entity, tmp_path) -> None:
    bank_account_add(entity=other_entity, account="NL77ABNA0574908765", currency="EUR")
    path = tmp_path / "s.xml"
    path.write_bytes(DOCUMENT)
    bank_statement_import(entity=other_entity, path=path)
    theirs = BankLine.objects.filter(entity=other_entity).first()
    assert theirs is not None
    response = api.get(f"/bank/lines/{theirs.pk}")
    assert response.status_code == 404
    assert api.get("/bank/lines").json()["items"] == []
    assert api.get("/bank/lines", {"entity": "globex"}).status_code == 404


def test_an_applied_line_shows_its_allocations(
    api, credit_manager, entity, linked, tmp_path, make_customer, make_invoice
) -> None:
    from datetime import date

    from relance.cashapp.matching import lines_match
    from relance.core.actors import Actor

    customer = make_customer("C1", name="Dupont SARL")
    make_invoice(customer, "INV-2026-0001", "1405.31", date(2026, 10, 1), date(2026, 10, 31))
    path = tmp_path / "s.xml"
    path.write_bytes(DOCUMENT)
    bank_statement_import(entity=entity, path=path)
    lines_match(entity=entity, actor=Actor.system("test"), confirm=False)
    applied = api.get("/bank/lines", {"status": "applied"}).json()["items"]
    assert [(line["bank_ref"], line["allocations"]) for line in applied] == [
        ("A-1", [{"invoice_ref": "INV-2026-0001", "amount": "1405.31"}])
    ]
    assert api.get(f"/bank/lines/{applied[0]['id']}").json()["allocations"] == applied[0]["allocations"]


# --- decisions: accept, split, assign, unapply; applied cash for the ERP ------------------------


@pytest.fixture
def collector(user):
    from relance.accounts.services import user_role_set

    user_role_set(user=user, role="collector")
    return user


@pytest.fixture
def day(entity, linked, tmp_path, make_customer, make_invoice):
    """A statement of the day and Dupont's two open invoices; the lines by bank_ref."""
    from datetime import date

    customer = make_customer("C1", name="Dupont SARL")
    make_invoice(customer, "INV-2026-0001", "1405.31", date(2026, 10, 1), date(2026, 10, 31))
    make_invoice(customer, "INV-2026-0002", "20.00", date(2026, 10, 1), date(2026, 10, 31))
    path = tmp_path / "s.xml"
    path.write_bytes(DOCUMENT)
    bank_statement_import(entity=entity, path=path)
    return {line.bank_ref: line for line in BankLine.objects.filter(entity=entity)}


def test_accept_then_unapply_over_the_api(api, collector, day) -> None:
    line = day["A-3"]
    line.status = "suggested"
    line.suggestions = [
        {
            "allocations": [{"invoice_ref": "INV-2026-0002", "amount": "20.00"}],
            "customer_ref": "C1",
            "confidence": 0.6,
            "reasons": ["the amount equals the open amount of INV-2026-0002"],
            "residual": "0.00",
            "shortfall": "0.00",
        }
    ]
    line.save()
    response = api.post(f"/bank/lines/{line.pk}/accept", {"suggestion": 0}, **{"Idempotency-Key": "k-1"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["allocations"]) == (
        "applied",
        [{"invoice_ref": "INV-2026-0002", "amount": "20.00"}],
    )
    # The same key replays; without a key a second accept is a conflict.
    replay = api.post(f"/bank/lines/{line.pk}/accept", {"suggestion": 0}, **{"Idempotency-Key": "k-1"})
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    again = api.post(f"/bank/lines/{line.pk}/accept", {"suggestion": 0})
    assert again.status_code == 409 and "already applied" in error_of(again)["message"]

    applications = api.get("/bank/applications").json()
    assert [(a["state"], a["customer_ref"], a["allocations"]) for a in applications["items"]] == [
        ("in_force", "C1", [{"invoice_ref": "INV-2026-0002", "amount": "20.00"}])
    ]
    assert applications["items"][0]["applied_by"].startswith("token")

    missing = api.post(f"/bank/lines/{line.pk}/unapply", {"reason": ""})
    assert missing.status_code == 422
    response = api.post(f"/bank/lines/{line.pk}/unapply", {"reason": "wrong customer"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] in {"suggested", "unmatched"}
    (item,) = api.get("/bank/applications").json()["items"]
    assert (item["state"], item["unapplied_reason"]) == ("reversed", "wrong customer")
    assert api.get("/bank/applications", {"since": "2999-01-01"}).json()["items"] == []


def test_split_and_assign_over_the_api(api, collector, day) -> None:
    response = api.post(
        f"/bank/lines/{day['A-1'].pk}/split",
        {"allocations": [{"invoice_ref": "INV-2026-0001", "amount": "1405.31"}], "note": "remittance"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["allocations"] == [{"invoice_ref": "INV-2026-0001", "amount": "1405.31"}]
    wrong = api.post(
        f"/bank/lines/{day['A-3'].pk}/split", {"allocations": [{"invoice_ref": "NOPE-1", "amount": "1.00"}]}
    )
    assert (
        wrong.status_code == 422
        and "invoice NOPE-1 is not an invoice of entity acme" in error_of(wrong)["message"]
    )
    response = api.post(f"/bank/lines/{day['A-3'].pk}/assign", {"customer_ref": "C1"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] in {"applied", "suggested"}
    debit = api.post(f"/bank/lines/{day['A-2'].pk}/assign", {"customer_ref": "C1"})
    assert debit.status_code == 422 and "debit" in error_of(debit)["message"]


def test_another_entitys_line_cannot_be_decided(api, collector, other_entity, tmp_path) -> None:
    bank_account_add(entity=other_entity, account="NL77ABNA0574908765", currency="EUR")
    path = tmp_path / "s.xml"
    path.write_bytes(DOCUMENT)
    bank_statement_import(entity=other_entity, path=path)
    theirs = BankLine.objects.filter(entity=other_entity, bank_ref="A-1").get()
    for action, body in (
        ("accept", {"suggestion": 0}),
        ("split", {"allocations": [{"invoice_ref": "X", "amount": "1"}]}),
        ("assign", {"customer_ref": "C1"}),
        ("unapply", {"reason": "x"}),
    ):
        response = api.post(f"/bank/lines/{theirs.pk}/{action}", body)
        assert response.status_code == 404, (action, response.content)


def test_readers_may_not_decide(api, user, day) -> None:
    from relance.accounts.services import user_role_set

    user_role_set(user=user, role="auditor")
    response = api.post(f"/bank/lines/{day['A-3'].pk}/assign", {"customer_ref": "C1"})
    assert response.status_code == 403
    assert api.get("/bank/applications").status_code == 200


def test_remittance_advice_splits_a_line(api, collector, day) -> None:
    line = day["A-3"]
    url = f"/api/v1/bank/lines/{line.pk}/remittance?filename=mail.txt"

    def post(body: str, query: str = "") -> Any:
        return api.client.post(url + query, body, content_type="text/plain", headers=api._headers({}))

    bad = post("INV-2026-0001  12,00\nINV-0404  3,00\n")
    assert bad.status_code == 422, bad.content
    assert [(d["field"], d["index"]) for d in bad.json()["error"]["details"]] == [("invoice reference", 2)]
    checked = post("Paid: INV-2026-0001  12,00\n", "&check=true")
    assert checked.status_code == 200 and checked.json()["split"] is False
    assert checked.json()["unapplied"] == "8.00"
    done = post("Paid: INV-2026-0001  12,00\n")
    assert done.status_code == 200, done.content
    assert done.json()["allocations"] == [{"invoice_ref": "INV-2026-0001", "amount": "12.00"}]
    assert BankLine.objects.get(pk=line.pk).status == "applied"
    again = post("Paid: INV-2026-0001  12,00\n")
    assert again.status_code == 409, again.content
