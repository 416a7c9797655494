"""Storing bureau reports: the payload kept, deterioration against the previous report, the file
import all or nothing (unknown customers included) and ``relance credit bureau``."""

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
import respx
from django.core.management import CommandError, call_command

from relance.audit.models import AuditEvent
from relance.core.actors import Actor
from relance.core.errors import ErrorList
from relance.credit.bureau import BureauReportData, DerogatoryEvent
from relance.credit.models import BureauReport, BureauSource
from relance.credit.services.bureau import bureau_file_import, bureau_report_store
from tests.credit.bureau import fixtures

pytestmark = pytest.mark.django_db
ACTOR = Actor.cli("tester")


def report(score, events=(), on=date(2026, 11, 30), provider="creditsafe", **fields):
    return BureauReportData(
        provider=provider,
        provider_company_id="GB-0-07495895",
        company_name="GOCARDLESS LTD",
        reported_on=on,
        bureau_score=score,
        derogatory_events=tuple(DerogatoryEvent(kind=kind, date=on, text=kind) for kind in events),
        raw_payload={"report": {"companyId": "GB-0-07495895", "score": score}},
        **fields,
    )


def test_the_first_report_is_stored_whole_and_is_no_deterioration(entity, make_customer):
    customer = make_customer("C-1")
    data = report(
        64.0,
        ("ccj",),
        provider_score="64",
        rating="B",
        recommended_limit=Decimal("25000"),
        currency="GBP",
        identifiers={"company_number": "07495895"},
    )
    stored = bureau_report_store(entity=entity, customer=customer, data=data, actor=ACTOR)

    row = BureauReport.objects.get()
    assert (stored.report, stored.previous, stored.deteriorated) == (row, None, False)
    assert (row.provider, row.reported_on, row.source) == ("creditsafe", date(2026, 11, 30), BureauSource.API)
    assert (row.bureau_score, row.provider_score, row.rating) == (64.0, "64", "B")
    assert (row.recommended_limit, row.recommended_currency) == (Decimal("25000"), "GBP")
    assert row.derogatory_events == 1
    assert row.derogatory == [
        {"kind": "ccj", "date": "2026-11-30", "amount": None, "currency": None, "text": "ccj"}
    ]
    assert row.identifiers == {"company_number": "07495895"}
    assert row.raw_payload == {"report": {"companyId": "GB-0-07495895", "score": 64.0}}
    event = AuditEvent.objects.get(action="bureau_report")
    assert event.after["deteriorated"] is False and event.actor_label == "cli:tester"
    assert (
        "raw_payload" not in json.dumps(event.after)
        and not AuditEvent.objects.filter(object_type="credit.bureaureport").exists()
    )


@pytest.mark.parametrize(
    ("before", "after", "codes"),
    [
        (report(70.0), report(58.0, on=date(2026, 12, 5)), ["bureau_score_dropped"]),
        (report(70.0), report(70.0, ("lien",), on=date(2026, 12, 5)), ["bureau_derogatory_event"]),
        (
            report(70.0, ("ccj",)),
            report(40.0, ("ccj", "bankruptcy"), on=date(2026, 12, 5)),
            ["bureau_score_dropped", "bureau_derogatory_event"],
        ),
        (report(58.0, ("ccj",)), report(70.0, on=date(2026, 12, 5)), []),  # better
        (report(70.0), report(None, on=date(2026, 12, 5)), []),  # no score is not a lower one
        (report(80.0, provider="dnb"), report(64.0, on=date(2026, 12, 5)), []),  # another bureau's scale
        (report(70.0, on=date(2026, 12, 5)), report(40.0, on=date(2026, 11, 1)), []),  # back-filled history
    ],
)
def test_deterioration_against_the_previous_report(entity, make_customer, before, after, codes):
    customer = make_customer("C-1")
    bureau_report_store(entity=entity, customer=customer, data=before, actor=ACTOR)
    stored = bureau_report_store(entity=entity, customer=customer, data=after, actor=ACTOR)
    assert [trigger["code"] for trigger in stored.triggers] == codes
    assert stored.deteriorated is bool(codes)


def test_the_trigger_says_what_changed(entity, make_customer):
    customer = make_customer("C-1")
    bureau_report_store(entity=entity, customer=customer, data=report(70.0), actor=ACTOR)
    stored = bureau_report_store(
        entity=entity,
        customer=customer,
        data=report(58.5, ("ccj", "lien"), on=date(2026, 12, 5)),
        actor=ACTOR,
    )
    assert [trigger["text"] for trigger in stored.triggers] == [
        "Creditsafe score fell from 70 to 58.5 (report of 2026-12-05)",
        "Creditsafe reports 2 new derogatory events (ccj, lien): 2 against 0 (report of 2026-12-05)",
    ]


def test_the_same_days_report_again_replaces_it(entity, make_customer):
    customer = make_customer("C-1")
    bureau_report_store(entity=entity, customer=customer, data=report(70.0), actor=ACTOR)
    stored = bureau_report_store(entity=entity, customer=customer, data=report(60.0), actor=ACTOR)
    assert BureauReport.objects.count() == 1
    assert (stored.report.bureau_score, stored.deteriorated) == (60.0, False)


def test_another_entitys_customer_is_refused(entity, make_customer):
    from relance.core.errors import ValidationFailed
    from relance.ledger.services import entity_create_or_update

    other, _ = entity_create_or_update(name="other", currency="EUR", language="en", legal_name="Other SA")
    stranger = make_customer("X-1", entity=other)
    with pytest.raises(ValidationFailed, match="is not a customer of"):
        bureau_report_store(entity=entity, customer=stranger, data=report(50.0), actor=ACTOR)


FILE = (
    "customer_ref,reported_on,score,rating,recommended_limit,currency,derogatory_events\n"
    "C-1,2026-11-01,72,B,50000,EUR,0\n"
    "C-1,2026-11-30,55,C,30000,EUR,ccj\n"
    "C-2,2026-11-30,80,A,,,\n"
)


def test_a_file_stores_every_row_in_date_order(entity, make_customer, tmp_path):
    make_customer("C-1")
    make_customer("C-2")
    path = tmp_path / "altares.csv"
    path.write_text(FILE)
    outcome = bureau_file_import(entity=entity, path=path, provider="altares", actor=ACTOR)
    assert (outcome.stored, outcome.deteriorated) == (3, ("C-1",))
    assert set(BureauReport.objects.values_list("source", flat=True)) == {BureauSource.FILE}
    assert AuditEvent.objects.filter(action="bureau_import").count() == 1
    again = bureau_file_import(entity=entity, path=path, provider="altares", actor=ACTOR)
    assert (again.stored, BureauReport.objects.count()) == (3, 3)  # re-importing changes nothing


def test_an_unknown_customer_rejects_the_whole_file(entity, make_customer, tmp_path):
    make_customer("C-1")
    path = tmp_path / "altares.csv"
    path.write_text(FILE + "C-9,2026-11-30,50,,,,\n")
    with pytest.raises(ErrorList) as raised:
        bureau_file_import(entity=entity, path=path, provider="altares", actor=ACTOR)
    assert [str(error) for error in raised.value.errors] == [
        f"{path}:4: customer_ref: expected a customer_ref already imported for this entity, found 'C-2'",
        f"{path}:5: customer_ref: expected a customer_ref already imported for this entity, found 'C-9'",
    ]
    assert not BureauReport.objects.exists()


def test_the_command_imports_and_reports(entity, make_customer, tmp_path):
    make_customer("C-1")
    make_customer("C-2")
    path = tmp_path / "altares.csv"
    path.write_text(FILE)
    out = StringIO()
    call_command("credit", "bureau", "import", str(path), "--provider", "altares", stdout=out)
    assert out.getvalue().strip() == (
        f"{path}: 3 report(s) from altares stored; 1 deteriorated (lower score or more derogatory events), "
        "a review is due: C-1"
    )


def test_the_command_lists_every_problem_and_stores_nothing(entity, make_customer, tmp_path):
    make_customer("C-1")
    path = tmp_path / "bad.csv"
    path.write_text("customer_ref,reported_on,score\nC-1,2026-11-30,120\nC-1,30/11/2026,50\n")
    err = StringIO()
    with pytest.raises(CommandError, match=r"^2 error\(s\); nothing was stored"):
        call_command("credit", "bureau", "import", str(path), "--provider", "creditsafe", stderr=err)
    assert err.getvalue().splitlines() == [
        f"{path}:2: score: expected a score from 0 to 100, higher is safer (decimal point '.'), found '120'",
        f"{path}:3: reported_on: expected a date YYYY-MM-DD, found '30/11/2026'",
    ]
    assert not BureauReport.objects.exists()


@respx.mock
def test_the_command_fetches_from_creditsafe(entity, make_customer, monkeypatch):
    make_customer("C-1")
    monkeypatch.setenv("RELANCE_CREDITSAFE_USERNAME", "user-key")
    monkeypatch.setenv("RELANCE_CREDITSAFE_PASSWORD", "s3cret-pw")
    base = "https://connect.creditsafe.com/v1"
    respx.post(f"{base}/authenticate").respond(json=fixtures.CREDITSAFE_TOKEN)
    respx.get(f"{base}/companies/GB-0-07495895").respond(json=fixtures.CREDITSAFE_REPORT)
    out = StringIO()
    call_command(
        "credit",
        "bureau",
        "fetch",
        "C-1",
        "--provider",
        "creditsafe",
        "--id",
        "GB-0-07495895",
        "--json",
        stdout=out,
    )
    shown = json.loads(out.getvalue())
    assert shown["customer_ref"] == "C-1"
    assert (shown["rating"], shown["recommended_limit"], shown["currency"], shown["derogatory_events"]) == (
        "B",
        "25000",
        "GBP",
        1,
    )
    assert BureauReport.objects.get().raw_payload == fixtures.CREDITSAFE_REPORT
    assert "s3cret" not in out.getvalue()


def test_the_command_without_credentials_says_which_variables(entity, make_customer, monkeypatch):
    make_customer("C-1")
    monkeypatch.delenv("RELANCE_DNB_KEY", raising=False)
    monkeypatch.delenv("RELANCE_DNB_SECRET", raising=False)
    with pytest.raises(
        CommandError, match="^D&B Direct\\+: not configured: set RELANCE_DNB_KEY and RELANCE_DNB_SECRET$"
    ):
        call_command("credit", "bureau", "fetch", "C-1", "--provider", "dnb", "--id", "804735132")
