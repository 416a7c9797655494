"""The one dispute queue (/w/disputes/): the customer's words and files, internal comments, owner,
the SLA the customer was told (one rule: the entity's portal setting), and resolve with an
explicit choice confirmed in a second step. /portal/back/disputes/ redirects here."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from relance.cases.models import Dispute
from relance.core.actors import SYSTEM


@pytest.fixture
def portal_dispute(ws, settings, tmp_path):
    """A dispute the customer opened in the portal: its case (text, SLA date told) and one file."""
    from relance.cases.services import dispute_open
    from relance.portal.models import DisputeAttachment, DisputeCase
    from relance.portal.selectors import dispute_sla_days, sla_due

    settings.RELANCE_PORTAL_UPLOAD_ROOT = str(tmp_path)
    opened = ws.today - timedelta(days=3)
    dispute = dispute_open(
        actor=SYSTEM,
        invoice=ws.late.invoices.get(external_ref="INV-L1"),
        reason_code="quantity",
        on=opened,
        amount=Decimal(50),
    )
    case = DisputeCase.objects.create(
        dispute=dispute,
        owner=ws.ana,
        sla_due_on=sla_due(opened_on=opened, days=dispute_sla_days(entity=ws.acme)),
        text="Only 8 of the 10 pallets arrived; Jiménez signed the delivery note.",
    )
    attachment = DisputeAttachment(
        case=case, filename="delivery-note.pdf", content_type="application/pdf", size=9
    )
    attachment.file.save("x.bin", ContentFile(b"%PDF-1.4\n"), save=False)
    attachment.save()
    return dispute, attachment


def test_the_old_back_office_queue_redirects_to_the_one_queue(ws, client_for):
    response = client_for(ws.manager).get("/portal/back/disputes/")
    assert response.status_code == 302 and response["Location"] == reverse("workspace:disputes")


def test_the_queue_shows_the_customers_words_files_owner_and_the_sla_they_were_told(
    ws, client_for, portal_dispute
):
    dispute, attachment = portal_dispute
    html = client_for(ws.manager).get(reverse("workspace:disputes")).content.decode()
    row = html.split("<tbody>")[1].split("</tr>")[0]
    told = dispute.portal_case.sla_due_on
    assert told == dispute.opened_on + timedelta(days=10)  # the portal's setting, not another number
    assert f"{told:%Y-%m-%d} · 7 d left" in row
    assert "Only 8 of the 10 pallets arrived" in row and "1 file" in row
    assert f'<option value="{ws.ana.pk}" selected>ana@acme.test</option>' in row  # the case's owner

    page = client_for(ws.manager).get(reverse("workspace:dispute", args=[dispute.pk])).content.decode()
    assert "Jiménez signed the delivery note" in page
    download = client_for(ws.manager).get(reverse("workspace:dispute_file", args=[dispute.pk, attachment.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4\n"
    assert "attachment" in download["Content-Disposition"]


def test_one_sla_rule_for_the_portal_and_the_queue(ws, client_for, portal_dispute):
    """Changing the entity's portal setting moves the back-office disputes' answer date too."""
    from relance.cases.services import dispute_open
    from relance.portal.models import PortalSettings

    PortalSettings.objects.update_or_create(entity=ws.acme, defaults={"dispute_sla_days": 5})
    recorded = dispute_open(
        actor=SYSTEM,
        invoice=ws.second.invoices.get(),
        reason_code="pricing",
        on=ws.today - timedelta(days=6),
        amount=Decimal(1),
    )
    html = client_for(ws.manager).get(reverse("workspace:disputes")).content.decode()
    assert "answered within 5 days" in html
    row = next(r for r in html.split("</tr>") if "INV-S1" in r)
    assert f"{recorded.opened_on + timedelta(days=5):%Y-%m-%d} · 1 d past SLA" in row
    # the portal case keeps the date the customer was told when it was opened
    portal_row = next(r for r in html.split("</tr>") if "INV-L1" in r)
    assert f"{portal_dispute[0].portal_case.sla_due_on:%Y-%m-%d}" in portal_row
    # the dashboard counts by the same rule
    from relance.reports.selectors import dashboard_case_counts

    assert dashboard_case_counts(entity=ws.acme, as_of=ws.today)["disputes_past_sla"] == 1


def test_resolve_needs_an_explicit_choice_and_a_confirmation(ws, client_for, portal_dispute):
    dispute, _ = portal_dispute
    manager = client_for(ws.manager)
    page = manager.get(reverse("workspace:dispute", args=[dispute.pk])).content.decode()
    form = page.split('id="resolve"')[1].split("</form>")[0]
    assert 'type="radio"' in form and "checked" not in form and "selected" not in form  # nothing preselected

    url = reverse("workspace:dispute_resolve", args=[dispute.pk])
    nothing = manager.post(url, {"note": "sorry"}).content.decode()
    assert "Choose how the dispute is resolved." in nothing
    asked = manager.post(url, {"resolution": "credit_note", "note": "Credit for 2 pallets"}).content.decode()
    assert "Resolve the dispute on INV-L1?" in asked and "Credit note issued" in asked
    dispute.refresh_from_db()
    assert dispute.status == "open"  # not before the confirmation

    done = manager.post(url, {"resolution": "credit_note", "note": "Credit for 2 pallets", "confirm": "yes"})
    assert done.status_code == 302 and done["Location"] == reverse("workspace:disputes")
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution) == ("resolved", "credit_note")


def test_internal_comments(ws, client_for, portal_dispute):
    dispute, _ = portal_dispute
    ana = client_for(ws.ana)
    url = reverse("workspace:dispute_comment", args=[dispute.pk])
    assert ana.post(url, {"text": "Called the warehouse: 2 pallets are in Lyon."}).status_code == 302
    page = ana.get(reverse("workspace:dispute", args=[dispute.pk])).content.decode()
    assert "2 pallets are in Lyon" in page and "ana@acme.test" in page
    assert client_for(ws.auditor).post(url, {"text": "x"}).status_code == 403


def test_a_sales_user_sees_only_their_accounts_disputes(ws, client_for, sales, portal_dispute):
    from relance.cases.services import dispute_open

    sam, _, _ = sales  # owns ws.late (the portal dispute's customer), not ws.second
    theirs = dispute_open(actor=SYSTEM, invoice=ws.second.invoices.get(), reason_code="pricing", on=ws.today)
    client = client_for(sam)
    html = client.get(reverse("workspace:disputes")).content.decode()
    assert "INV-L1" in html and "INV-S1" not in html
    assert client.get(reverse("workspace:dispute", args=[portal_dispute[0].pk])).status_code == 200
    for name in ("workspace:dispute", "workspace:dispute_resolve", "workspace:dispute_comment"):
        method = client.get if name == "workspace:dispute" else client.post
        assert (
            method(reverse(name, args=[theirs.pk]), {"resolution": "rejected", "confirm": "yes"}).status_code
            == 404
        )
    assert Dispute.objects.get(pk=theirs.pk).status == "open"
    other_entity = dispute_open(
        actor=SYSTEM,
        invoice=ws.globex_customer.invoices.get(),
        reason_code="pricing",
        on=ws.today,
    )
    assert client_for(ws.manager).get(reverse("workspace:dispute", args=[other_entity.pk])).status_code == 404


def test_the_customer_360_links_its_disputes_to_their_page_in_the_queue(ws, client_for, portal_dispute):
    dispute, _ = portal_dispute
    page = client_for(ws.ana).get(reverse("workspace:customer", args=[ws.late.pk])).content.decode()
    assert f'href="{reverse("workspace:dispute", args=[dispute.pk])}"' in page
