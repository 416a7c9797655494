# ruff: noqa: F811 - the fixtures imported from tests.*.conftest are used as arguments
"""Finding 9 of issue 12: control characters and bidi controls in refs and names are refused at
import and in the API (one rule: ``relance.core.identifiers.check_plain_text``) with FILE:LINE:
field errors; an over-long CSV cell is a FILE:LINE error, not a traceback; CSV exports stay inert
when a spreadsheet splits cells on another separator."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relance.core.csvsafe import SafeCsvWriter, neutralise_cell
from relance.core.errors import ValidationFailed
from relance.core.identifiers import check_plain_text
from relance.ledger.models import Contact, Customer, Invoice
from tests.api.conftest import api, error_of, grant, user  # noqa: F401 - fixtures
from tests.ingest.conftest import customers_loaded, run_import, write  # noqa: F401 - fixtures

CORPUS = Path(__file__).parent / "corpus" / "imports"
PAYLOADS = {
    name: text
    for name, text in json.loads((CORPUS / "unsafe_text.json").read_text(encoding="utf-8")).items()
    if not name.startswith("_")
}
REFUSED = "expected text without control characters"

pytestmark = pytest.mark.django_db


def _csv(rows: list[list[str]]) -> str:
    stream = io.StringIO()
    csv.writer(stream).writerows(rows)  # quotes cells holding CR or LF
    return stream.getvalue()


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_the_rule_refuses_every_payload(payload):
    with pytest.raises(ValidationFailed, match=REFUSED):
        check_plain_text(PAYLOADS[payload])


@pytest.mark.parametrize(
    "text", ["Dupont SARL", "Müller GmbH", "مؤسسة", "東京株式会社", "a\u00a0b", "Zoë 👩\u200d💻"]
)
def test_the_rule_keeps_ordinary_text_in_any_script(text):
    assert check_plain_text(text) == text


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_an_import_refuses_a_customer_ref_with_the_payload_at_file_line(payload, entity, write, run_import):
    path = write(
        "customers.csv", _csv([["customer_ref", "name"], ["OK-1", "Fine"], [f"C{PAYLOADS[payload]}", "X"]])
    )
    run = run_import("customers", path)
    assert not run.ok
    assert f"{path}:3: customer_ref: {REFUSED}" in run.stderr
    assert not Customer.objects.exists()


@pytest.mark.parametrize("payload", ["crlf_header_injection", "ansi_red", "rlo_override", "nul"])
def test_an_import_refuses_a_contact_name_with_the_payload(payload, customers_loaded, write, run_import):
    path = write(
        "contacts.csv",
        _csv([["customer_ref", "name", "email"], ["C1", f"Jo{PAYLOADS[payload]}", "jo@dupont.fr"]]),
    )
    run = run_import("contacts", path)
    assert not run.ok
    assert f"{path}:2: name: {REFUSED}" in run.stderr
    assert not Contact.objects.filter(email="jo@dupont.fr").exists()


def test_a_postal_address_keeps_its_line_breaks_but_not_escapes(customers_loaded, write, run_import):
    good = write(
        "ok.csv",
        _csv([["customer_ref", "email", "postal_address"], ["C1", "a@dupont.fr", "1 rue X\r\n75002 Paris"]]),
    )
    assert run_import("contacts", good).ok
    assert Contact.objects.get(email="a@dupont.fr").postal_address == "1 rue X\r\n75002 Paris"
    bad = write(
        "bad.csv",
        _csv([["customer_ref", "email", "postal_address"], ["C1", "b@dupont.fr", "1 rue X\n\x1b[2J"]]),
    )
    run = run_import("contacts", bad)
    assert not run.ok
    assert (
        f"{bad}:2: postal_address: expected text without control characters other than line breaks"
        in run.stderr
    )


def test_the_fast_invoice_path_refuses_a_control_character_too(customers_loaded, write, run_import):
    header = ["invoice_ref", "customer_ref", "issue_date", "due_date", "currency", "amount"]
    path = write(
        "inv.csv",
        _csv(
            [
                header,
                ["I-1", "C1", "2026-01-05", "2026-02-04", "EUR", "10"],
                ["I-2\x00", "C1", "2026-01-05", "2026-02-04", "EUR", "10"],
            ]
        ),
    )
    run = run_import("invoices", path)
    assert not run.ok
    assert f"{path}:3: invoice_ref: {REFUSED}" in run.stderr
    assert not Invoice.objects.exists()


def test_an_api_write_refuses_the_same_payloads_with_the_field(api):
    response = api.put("/customers/C9", {"name": "Bob\r\nBcc: victim@example.com"})
    assert response.status_code == 422, response.content
    details = error_of(response)["details"]
    assert details[0]["field"] == "name" and REFUSED in details[0]["message"]
    bulk = api.post(
        "/customers/bulk",
        {"items": [{"customer_ref": "OK", "name": "a"}, {"customer_ref": "X\u202e", "name": "b"}]},
    )
    assert bulk.status_code == 422, bulk.content
    assert error_of(bulk)["details"][0] | {"message": ""} == {
        "field": "customer_ref",
        "message": "",
        "index": 1,
    }
    assert not Customer.objects.exists()


def test_a_cell_over_the_csv_size_limit_is_a_file_line_error(entity, write, run_import):
    big = "x" * (csv.field_size_limit() + 1)
    path = write("customers.csv", f"customer_ref,name\nC1,ok\nC2,{big}\n")
    run = run_import("customers", path)
    assert not run.ok
    assert f"{path}:3: a cell is longer than 131,072 characters" in run.error
    assert "Traceback" not in run.stderr + run.error
    assert not Customer.objects.exists()


# -- CSV exports -------------------------------------------------------------------------------

SPLITTERS = ",;|\t"


def _cells_seen_by(delimiter: str, text: str) -> list[str]:
    """What a spreadsheet that splits on ``delimiter`` (and on line breaks) shows as cells."""
    return [cell for line in text.splitlines() for cell in line.split(delimiter)]


def _formula(cell: str) -> bool:
    return cell.lstrip(" ").startswith(("=", "+", "-", "@"))


def test_a_formula_after_a_semicolon_is_neutralised_for_semicolon_spreadsheets():
    stream = io.StringIO()
    SafeCsvWriter(stream).writerow(["x;=1+1", "y|@SUM(A1)", "z\n+1", "plain; text", "a, -b"])
    written = stream.getvalue()
    for delimiter in ";|,\t":
        assert not [cell for cell in _cells_seen_by(delimiter, written) if _formula(cell.strip('"'))], (
            delimiter
        )
    assert next(csv.reader(io.StringIO(written))) == [
        "x;'=1+1",
        "y|'@SUM(A1)",
        "z\n'+1",
        "plain; text",
        "a, '-b",
    ]


@given(st.text(alphabet=st.sampled_from("x =+-@;,|\t\r\n'\"")))
def test_no_separator_split_of_an_exported_cell_starts_a_formula(text):
    cell = neutralise_cell(text)
    for delimiter in SPLITTERS:
        for line in cell.replace("\r", "\n").split("\n"):
            assert not any(_formula(part) for part in line.split(delimiter)), (text, cell)
    assert cell.replace("'", "") == text.replace("'", "")


def test_the_rejects_file_neutralises_an_embedded_formula(entity, write, run_import):
    path = write("c.csv", _csv([["customer_ref", "name", "email"], ["C1", "x;=1+1", "not-an-email"]]))
    run = run_import("customers", path, "--skip-invalid")
    assert run.ok
    rejects = path.with_name("c.csv.rejects.csv").read_text(encoding="utf-8")
    assert not [cell for cell in _cells_seen_by(";", rejects) if _formula(cell.strip('"'))]
    assert "x;'=1+1" in rejects


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/messages?customer_ref=1%00x", "'customer_ref'"),
        ("/messages?limit=5&channel=%00", "'channel'"),
        ("/customers?q=%00", "'q'"),
        ("/customers/C%00-1", "path"),
    ],
)
def test_a_nul_in_an_api_request_is_a_400_naming_the_parameter(api, path, named):
    """PostgreSQL cannot hold NUL in text: a ``%00`` in a filter reached it as a 500 (the API
    fuzz found it); SQLite answered as if the filter were plain. Now both answer 400 first."""
    response = api.client.get(f"/api/v1{path}", headers=api._headers({}))
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert "NUL" in error["message"] and named in error["message"]


@pytest.mark.parametrize(
    ("body", "field"), [({"name": "Bob\u0000Bcc"}, "name"), ({"name": "Bob", "segment": "\u0000"}, "segment")]
)
def test_a_nul_in_a_json_body_is_a_422_naming_the_field_and_writes_nothing(api, body, field):
    """Any field, checked where the API parses JSON (not only the fields ``check_plain_text``
    guards): PostgreSQL would answer 500."""
    response = api.put("/customers/C9", body)
    assert response.status_code == 422, response.content
    assert [detail["field"] for detail in error_of(response)["details"]] == [field]
    assert "NUL" in error_of(response)["details"][0]["message"]
    assert not Customer.objects.filter(external_ref="C9").exists()


def test_a_percent_sign_before_00_is_plain_text(api):
    assert api.get("/customers", {"q": "%00"}).status_code == 200  # sent as %2500: no NUL


def test_a_nul_in_a_form_field_is_a_400_naming_it(signed_in):
    client, _ = signed_in
    # What a browser's form sends (urlencoded); multipart bodies are the uploads' import's to check.
    response = client.post("/customers/", "note=a%00b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert b"form field 'note'" in response.content


def test_a_session_cookie_of_nuls_is_dropped_not_a_500(signed_in):
    """Django unquotes ``"\\000…"`` in a cookie into NULs; the session table (PostgreSQL) cannot
    be asked for such a key: the cookie is dropped, as if there were none."""
    client, _ = signed_in
    client.cookies["sessionid"] = "\x00" * 12
    response = client.get("/customers/")
    assert response.status_code in (200, 302)
    assert response.status_code == 302  # signed out: the login page, not an error


def test_a_nul_in_a_page_query_is_a_400(signed_in):
    client, _ = signed_in
    response = client.get("/customers/?q=%00")
    assert response.status_code == 400
    assert b"query parameter 'q'" in response.content
    assert client.get("/customers/?q=C-1").status_code == 200
