"""`relance demo --no-serve`: a loaded ledger and a login, repeatable, never taking over an account."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from relance.ledger.models import Entity, Invoice


def _demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--no-serve", "--customers", "20", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.RELANCE_VAR_DIR = tmp_path
    return tmp_path


def test_demo_loads_a_ledger_once_and_prints_a_working_login(db, var_dir):
    output = _demo()
    entity = Entity.objects.get(name="demo")
    invoices = Invoice.objects.filter(entity=entity).count()
    # 20 generated, plus the copies the demo plants for the duplicates page (DUP-…)
    assert invoices > 100 and entity.customers.exclude(external_ref__startswith="DUP-").count() == 20
    password = output.split("Password: ")[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)

    again = _demo()
    assert "already loaded" in again
    assert Invoice.objects.filter(entity=entity).count() == invoices
    assert again.split("Password: ")[1].split()[0] == password  # the same login, printed again


def test_demo_never_takes_over_an_existing_account(db, var_dir):
    get_user_model().objects.create_user("admin", password="the owner's own")
    output = _demo()
    assert "unchanged" in output
    assert get_user_model().objects.get(username="admin").check_password("the owner's own")


def test_demo_sets_up_collections_with_a_run_and_queued_messages(db, var_dir):
    from relance.delivery.models import OutboundMessage
    from relance.dunning.models import DunningRun, Policy, SegmentPolicy

    output = _demo()
    entity = Entity.objects.get(name="demo")
    assert set(Policy.objects.filter(entity=entity).values_list("key", flat=True)) == {
        "standard",
        "white_glove",
        "high_risk",
    }
    assert SegmentPolicy.objects.get(entity=entity, segment="").policy.key == "standard"
    run = DunningRun.objects.filter(entity=entity).latest("as_of")  # today's, after the history's
    runs = DunningRun.objects.filter(entity=entity).count()
    queued = OutboundMessage.objects.filter(run=run).count()
    assert f"{queued} messages queued" in output
    assert "Today's collections run:" in output
    # --reset wipes what the run and the outbox keep about the customers too, then sets up again
    again = _demo("--reset")
    assert "Today's collections run:" in again
    assert DunningRun.objects.filter(entity=entity).count() == runs  # replayed, not added to


@pytest.fixture
def public_url_unset(settings, monkeypatch):
    """RELANCE_PUBLIC_URL not configured (the command sets it, here restored after the test)."""
    settings.RELANCE_PUBLIC_URL_SET = False
    monkeypatch.setenv("RELANCE_PUBLIC_URL", "")
    return settings


def test_demo_on_another_port_prints_and_queues_links_to_that_port(db, var_dir, public_url_unset):
    from relance.delivery.models import OutboundMessage

    output = _demo("--port", "8101")
    assert "URL:      http://127.0.0.1:8101/" in output
    bodies = " ".join(OutboundMessage.objects.values_list("body_text", flat=True))
    assert "http://127.0.0.1:8101/" in bodies and ":8000" not in bodies and "testserver" not in bodies


def test_a_configured_public_url_wins_over_the_served_port(settings, monkeypatch):
    from relance.common.links import absolute_url, public_url_follow_server

    settings.RELANCE_PUBLIC_URL_SET = True
    settings.RELANCE_PUBLIC_URL = "https://pay.example.com"
    assert public_url_follow_server(host="0.0.0.0", port=8101) == "https://pay.example.com"
    assert absolute_url("/portal/t/x/") == "https://pay.example.com/portal/t/x/"


def test_the_public_url_follows_the_served_address(public_url_unset):
    import os

    from relance.common.links import absolute_url, public_url_follow_server

    assert public_url_follow_server(host="0.0.0.0", port=8101) == "http://127.0.0.1:8101"
    assert absolute_url("/w/") == "http://127.0.0.1:8101/w/"
    assert os.environ["RELANCE_PUBLIC_URL"] == "http://127.0.0.1:8101"  # gunicorn's workers too
    assert public_url_follow_server(host="::1", port=9000) == "http://[::1]:9000"


def test_demo_statement_of_the_day_is_imported_and_matched(db, var_dir):
    """A camt.053 dated the demo's today: sure lines applied to the invoices they quote, the
    payer known only by IBAN suggested, the unknown payer unmatched, debits stored."""
    import re

    from django.utils import timezone

    from relance.cashapp.models import BankLine
    from relance.cashapp.selectors import line_allocations

    output = _demo("--no-team")
    entity = Entity.objects.get(name="demo")
    found = re.search(r"matched: (\d+) applied, (\d+) suggested, (\d+) unmatched", output)
    assert found, output
    applied, suggested, unmatched = map(int, found.groups())
    lines = list(BankLine.objects.filter(entity=entity))
    assert (var_dir / "demo" / f"statement-{timezone.localdate().isoformat()}.xml").exists()
    assert {line.booking_date for line in lines} == {timezone.localdate()}
    statuses = [line.status for line in lines]
    assert statuses.count("applied") == applied >= 4
    assert statuses.count("suggested") == suggested >= 1
    assert statuses.count("unmatched") == unmatched >= 1
    assert statuses.count("debit") == 2
    for line in lines:
        if line.status == "applied":  # to the invoices the payer quoted, never another
            quoted = f"{line.remittance_unstructured} {line.remittance_structured}".replace("O", "0")
            for allocation in line_allocations(line):
                assert allocation["invoice_ref"].replace("-", "") in quoted.replace("-", ""), allocation
    by_kind = {line.remittance_unstructured: line for line in lines}
    assert by_kind["MONTHLY SETTLEMENT"].status == "suggested"
    assert "the payer's IBAN paid this customer before" in by_kind["MONTHLY SETTLEMENT"].reasons
    assert by_kind["Advance payment as agreed by phone"].status == "unmatched"
    assert "Statement of the day" not in _demo("--no-team")  # loaded once, not imported again
