"""Promise, dispute (with uploads), plan: limits, effects on dunning's records, confirmations."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from relance.cases.models import Dispute, PaymentPlan, Promise
from relance.core.actors import SYSTEM
from relance.portal.models import DisputeAttachment, PlanRequest, PortalEvent, PortalSettings
from tests.portal.conftest import sent_messages

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


# --------------------------------------------------------------------------- promises


def test_promise_on_chosen_invoices_with_confirmation(
    client, url, ledger, today, django_capture_on_commit_callbacks
):
    invoice = ledger["invoices"]["late"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("promise"), {"promised_date": str(today + timedelta(days=10)), "invoice": [invoice.pk]}
        )
    assert response.status_code == 200
    assert "Thank you: your promise is noted" in response.content.decode()
    promise = Promise.objects.get()
    assert promise.customer == ledger["parent"]
    assert promise.amount == Decimal("1200.0000")
    assert list(promise.invoices.all()) == [invoice]
    assert PortalEvent.objects.filter(action="promise_made", detail__promise=promise.pk).exists()
    assert [recipient for recipient, _ in sent_messages()] == ["ana@parent.example"]


def test_promise_limits(client, url, ledger, today, entity):
    too_late = client.post(url("promise"), {"promised_date": str(today + timedelta(days=31))})
    assert too_late.status_code == 400 and "must be between" in too_late.content.decode()
    past = client.post(url("promise"), {"promised_date": str(today - timedelta(days=1))})
    assert past.status_code == 400
    PortalSettings.objects.create(entity=entity, promise_min_share=Decimal("0.5"))
    invoice = ledger["invoices"]["late"]
    small = client.post(
        url("promise"),
        {
            "promised_date": str(today + timedelta(days=5)),
            "invoice": [invoice.pk],
            "scope": "amount",
            "amount": "599",
        },
    )
    assert small.status_code == 400 and "between 600.00 and 1200.00 EUR" in small.content.decode()
    assert not Promise.objects.exists()
    ok = client.post(
        url("promise"),
        {
            "promised_date": str(today + timedelta(days=5)),
            "invoice": [invoice.pk],
            "scope": "amount",
            "amount": "600",
        },
    )
    assert ok.status_code == 200
    assert Promise.objects.get().amount == Decimal("600.0000")


def test_promise_ignores_invoices_outside_the_scope(client, url, ledger, today):
    response = client.post(
        url("promise"),
        {"promised_date": str(today + timedelta(days=5)), "invoice": [ledger["invoices"]["stranger"].pk]},
    )
    assert response.status_code == 400
    assert not Promise.objects.exists()


# --------------------------------------------------------------------------- disputes


def _dispute(client, url, invoice, files=(), **fields):
    data = {"reason": "quality", "text": "Two boxes broken", **fields}
    if files:
        data["files"] = list(files)
    return client.post(url("dispute", invoice.pk), data)


def test_dispute_with_photo_becomes_a_case_with_sla(
    client, url, ledger, today, django_capture_on_commit_callbacks
):
    invoice = ledger["invoices"]["late"]
    photo = SimpleUploadedFile("delivery note.jpg", JPEG, content_type="image/jpeg")
    scan = SimpleUploadedFile("../../etc/scan.PDF", PDF, content_type="application/octet-stream")
    with django_capture_on_commit_callbacks(execute=True):
        response = _dispute(client, url, invoice, files=[photo, scan], amount="200")
    assert response.status_code == 302
    dispute = Dispute.objects.get()
    assert dispute.amount == Decimal("200.0000") and dispute.reason_code == "quality"
    case = dispute.portal_case
    assert case.sla_due_on == today + timedelta(days=10)
    names = sorted(a.filename for a in case.attachments.all())
    assert names == ["delivery note.jpg", "scan.pdf"]
    page = client.get(response["Location"]).content.decode()
    assert "10 days left" in page and "delivery note.jpg" in page
    assert sent_messages()[-1][0] == "ana@parent.example"
    # Only the disputed amount leaves dunning: the rest can still be disputed, not more.
    assert _dispute(client, url, invoice, amount="1000.01").status_code == 400
    assert _dispute(client, url, invoice, amount="1000").status_code == 302


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("invoice.html", b"<!doctype html><script>alert(1)</script>"),
        ("photo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("photo.jpg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00"),
        ("tool.pdf", b"\x7fELF\x02\x01\x01\x00"),
        ("script.png", b"#!/bin/sh\nrm -rf /\n"),
        ("empty.pdf", b""),
    ],
)
def test_dangerous_or_unknown_uploads_are_refused(client, url, ledger, name, content):
    upload = SimpleUploadedFile(name, content, content_type="application/pdf")
    response = _dispute(client, url, ledger["invoices"]["late"], files=[upload])
    assert response.status_code == 400
    assert not Dispute.objects.exists()
    assert not DisputeAttachment.objects.exists()


def test_huge_upload_is_refused(client, url, ledger, entity):
    PortalSettings.objects.create(entity=entity, attachment_max_bytes=1024 * 1024)
    huge = SimpleUploadedFile("big.pdf", PDF + b"0" * (1024 * 1024), content_type="application/pdf")
    response = _dispute(client, url, ledger["invoices"]["late"], files=[huge])
    assert response.status_code == 400
    assert "at most 1 MB" in response.content.decode()
    assert not Dispute.objects.exists()


def test_attachment_served_only_as_a_download(client, url, ledger, settings, tmp_path):
    # One settings mechanism only: mixing @override_settings with the ``settings`` fixture leaks the
    # decorator's values into later tests (the fixture restores the state it saw, decorator included).
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    settings.RELANCE_PORTAL_UPLOAD_ROOT = str(tmp_path)
    from django.utils.functional import empty

    from relance.portal.models import upload_storage

    upload_storage._wrapped = empty  # type: ignore[assignment]  # the lazy storage picks up the new root
    response = _dispute(client, url, ledger["invoices"]["late"], files=[SimpleUploadedFile("n.png", PNG)])
    assert response.status_code == 302
    dispute = Dispute.objects.get()
    attachment = dispute.portal_case.attachments.get()
    stored = attachment.file.path
    assert stored.startswith(str(tmp_path)) and stored.endswith(".bin")
    download = client.get(url("attachment", dispute.pk, attachment.pk))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Type"] == "image/png"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == PNG
    upload_storage._wrapped = empty  # type: ignore[assignment]


# --------------------------------------------------------------------------- plans


def test_plan_inside_the_limits_starts_at_once(
    client, url, ledger, today, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("plan"), {"installments": "3", "first_due": str(today + timedelta(days=7))}
        )
    assert response.status_code == 200
    assert "Your payment plan is in place" in response.content.decode()
    plan = PaymentPlan.objects.get()
    assert plan.customer == ledger["parent"]  # the link's own account by default
    amounts = [i.amount for i in plan.installments.all()]
    assert sum(amounts) == Decimal("1500.0000") and len(amounts) == 3
    assert PortalEvent.objects.filter(action="plan_started").exists()
    assert "Plan from" in client.get(url("plan")).content.decode()
    again = client.post(url("plan"), {"installments": "2", "first_due": str(today + timedelta(days=7))})
    assert again.status_code == 400 and "already have an active payment plan" in again.content.decode()


def test_plan_outside_the_limits_waits_for_a_credit_manager(client, url, ledger, today, admin_client):
    response = client.post(url("plan"), {"installments": "12", "first_due": str(today + timedelta(days=45))})
    assert response.status_code == 200
    assert "Your request is with our credit team" in response.content.decode()
    assert not PaymentPlan.objects.exists()
    request = PlanRequest.objects.get()
    assert request.reasons == ["more than 6 installments", "first installment later than 30 days"]
    assert "waiting for an answer" in client.get(url("plan")).content.decode()
    listed = admin_client.get("/portal/back/plans/").content.decode()
    assert "more than 6 installments" in listed
    decided = admin_client.post(f"/portal/back/plan-requests/{request.pk}/decide/", {"decision": "approve"})
    assert decided.status_code == 302
    request.refresh_from_db()
    assert request.status == "approved" and request.plan is not None
    assert request.plan.installments.count() == 12


def test_plan_request_reject(ledger, today, link, django_capture_on_commit_callbacks):
    from relance.portal.services import Actor, plan_ask, plan_request_decide

    # 1500 in 40 installments: under the 50 EUR minimum installment.
    outcome = plan_ask(actor=Actor(link), on=today, installments=40, first_due=today + timedelta(days=5))
    assert "installments below 50.00 EUR" in outcome.request.reasons
    assert outcome.request is not None
    with django_capture_on_commit_callbacks(execute=True):
        decided = plan_request_decide(
            actor=SYSTEM, request=outcome.request, approve=False, on=today, note="too long"
        )
    assert sent_messages()[-1][0] == "ana@parent.example"
    assert decided.status == "rejected" and decided.plan is None
    assert not PaymentPlan.objects.exists()


def test_plan_one_account_at_a_time(client, url, ledger, today):
    ids = [ledger["invoices"]["late"].pk, ledger["invoices"]["child"].pk]
    response = client.post(
        url("plan"), {"installments": "2", "first_due": str(today + timedelta(days=3)), "invoice": ids}
    )
    assert response.status_code == 400
    assert "one account" in response.content.decode()
