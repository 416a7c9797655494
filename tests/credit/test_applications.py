# ruff: noqa: F811  (the fixtures imported from applications_fixtures are parameters here)
"""Credit applications: the form's answers refused field by field with nothing stored, the link
(expiry, revocation, one submission, reopened by an information request), the workflow with
four eyes, and what approval writes (customer, limit, terms, expiry, decision, documents)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from relance.core.errors import ValidationFailed
from relance.credit.models import (
    ApplicationDocument,
    ApplicationLink,
    ApplicationStatus,
    CreditApplication,
    CreditDecision,
    CreditProfile,
    CreditSettings,
)
from relance.credit.services import applications as svc
from tests.credit.applications_fixtures import (  # noqa: F401
    GOOD_ANSWERS,
    HTML,
    PDF,
    _fresh_cache,
    customer,
    globex,
    good_files,
    make_user,
    manager,
    manager2,
    prospect_link,
    signed_in,
    submitted,
    upload_root,
)

pytestmark = pytest.mark.django_db


def _stored_files(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_good_answers_are_stored_with_their_documents(submitted, upload_root) -> None:
    application = submitted
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.identifiers == {"vat": "FR40303265045", "siren": "303265045"}
    assert application.iban == "FR7630006000011234567890189"
    assert application.contacts[0]["phone"] == "+33612345678"
    assert application.requested_limit == Decimal("25000")
    documents = list(application.documents.order_by("kind"))
    assert [(d.kind, d.content_type) for d in documents] == [
        ("financial_statements", "application/pdf"),
        ("registration_extract", "image/png"),
        ("signed_terms", "application/pdf"),
    ]
    assert len(_stored_files(upload_root)) == 3
    assert all(len(d.sha256) == 64 and d.file.name.endswith(".bin") for d in documents)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("legal_name", ""),
        ("country", "XX"),
        ("vat", "FR00000000000"),
        ("siren", "123456789"),
        ("duns", "12345"),
        ("company_number", "12-AB"),
        ("ap_email", "not-an-address"),
        ("ap_phone", "12"),
        ("iban", "FR7630006000011234567890180"),
        ("iban", ""),
        ("bic", "NOTABIC"),
        ("requested_limit", "-5"),
        ("requested_limit", "NaN"),
        ("requested_terms_days", "400"),
        ("currency", "XYZ"),
        ("postcode", ""),
        ("legal_name", "Evil\u202eCorp"),
    ],
)
def test_one_bad_field_is_refused_by_name_and_nothing_is_stored(
    prospect_link, upload_root, field, value
) -> None:
    answers = dict(GOOD_ANSWERS, **{field: value})
    with pytest.raises(svc.ApplicationRefused) as refused:
        svc.application_submit(link=prospect_link.link, data=answers, files=good_files())
    # an unknown country also leaves a national phone number without its country code
    assert list(refused.value.errors) == ([field, "ap_phone"] if field == "country" else [field])
    assert not CreditApplication.objects.exists()
    assert not ApplicationDocument.objects.exists()
    assert _stored_files(upload_root) == []


def test_no_identifier_at_all_is_refused(prospect_link, upload_root) -> None:
    answers = {k: v for k, v in GOOD_ANSWERS.items() if k not in ("vat", "siren")}
    with pytest.raises(svc.ApplicationRefused) as refused:
        svc.application_submit(link=prospect_link.link, data=answers, files=good_files())
    assert list(refused.value.errors) == ["vat"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bilan.pdf", HTML, "Only PDF, JPEG or PNG"),
        ("bilan.pdf", b"", "empty"),
        ("bilan.pdf", PDF + b"\x00" * (6 * 1024 * 1024), "at most 5 MB"),
        ("image.jpg", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "Only PDF, JPEG or PNG"),
        ("setup.pdf", b"MZ\x90\x00" + b"\x00" * 60, "Only PDF, JPEG or PNG"),
    ],
)
def test_a_bad_document_is_refused_by_its_field_and_nothing_is_stored(
    prospect_link, upload_root, name, content, expected
) -> None:
    files = good_files()
    files["doc_financial_statements"] = [SimpleUploadedFile(name, content, "application/pdf")]
    with pytest.raises(svc.ApplicationRefused) as refused:
        svc.application_submit(link=prospect_link.link, data=GOOD_ANSWERS, files=files)
    assert list(refused.value.errors) == ["doc_financial_statements"]
    assert expected in refused.value.errors["doc_financial_statements"]
    assert not CreditApplication.objects.exists() and _stored_files(upload_root) == []


def test_a_missing_document_is_refused(prospect_link, upload_root) -> None:
    files = good_files()
    del files["doc_signed_terms"]
    with pytest.raises(svc.ApplicationRefused) as refused:
        svc.application_submit(link=prospect_link.link, data=GOOD_ANSWERS, files=files)
    assert list(refused.value.errors) == ["doc_signed_terms"]


def test_every_bad_field_is_named_at_once(prospect_link, upload_root) -> None:
    answers = dict(GOOD_ANSWERS, iban="FR00", ap_email="x", requested_terms_days="0")
    with pytest.raises(svc.ApplicationRefused) as refused:
        svc.application_submit(link=prospect_link.link, data=answers, files={})
    assert set(refused.value.errors) == {
        "iban",
        "ap_email",
        "requested_terms_days",
        "doc_financial_statements",
        "doc_registration_extract",
        "doc_signed_terms",
    }


def test_a_failure_while_writing_leaves_no_file(prospect_link, upload_root, monkeypatch) -> None:
    from relance.audit.services import audit_record

    def boom(**kwargs):
        if kwargs.get("action") == "application_submitted":
            raise RuntimeError("disk full")
        return audit_record(**kwargs)

    monkeypatch.setattr("relance.credit.services.applications.audit_record", boom)
    with pytest.raises(RuntimeError):
        svc.application_submit(link=prospect_link.link, data=GOOD_ANSWERS, files=good_files())
    assert not CreditApplication.objects.exists() and _stored_files(upload_root) == []


# --------------------------------------------------------------------------- the link


def test_the_link_is_sent_in_the_applicants_language(prospect_link, mailoutbox) -> None:
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["claire@martin.example"]
    assert prospect_link.url in message.body
    assert "demande" in message.subject.lower() or "crédit" in message.subject.lower()
    assert svc.link_verify(svc.link_token(prospect_link.link)).pk == prospect_link.link.pk


def test_a_customers_link_goes_through_the_outbox_to_its_billing_contact(entity, manager, customer) -> None:
    from relance.delivery.models import OutboundMessage

    issued = svc.link_issue(entity=entity, user=manager, customer=customer)
    assert issued.link.email == "billing@martin.example" and issued.link.language == "de"
    message = OutboundMessage.objects.get()
    assert message.customer == customer and message.recipient == "billing@martin.example"
    assert issued.url in message.body_text


def test_expired_revoked_and_tampered_links_are_refused(prospect_link) -> None:
    link = prospect_link.link
    token = svc.link_token(link)
    with pytest.raises(svc.ApplicationLinkRefused) as bad:
        svc.link_verify(token[:-2] + "xx")
    assert bad.value.reason == "bad"
    from relance.portal.links import token_sign

    with pytest.raises(svc.ApplicationLinkRefused) as foreign:  # a portal token for the same id
        svc.link_verify(token_sign(link.token_id))
    assert foreign.value.reason == "bad"
    with pytest.raises(svc.ApplicationLinkRefused) as expired:
        svc.link_verify(token, now=link.expires_at + timedelta(seconds=1))
    assert expired.value.reason == "expired"
    assert svc.link_revoke(link=link) is True
    assert svc.link_revoke(link=link) is False
    with pytest.raises(svc.ApplicationLinkRefused) as revoked:
        svc.link_verify(token)
    assert revoked.value.reason == "revoked"


def test_link_validity_is_the_entitys_setting(entity, manager) -> None:
    CreditSettings.objects.create(entity=entity, application_link_days=3)
    issued = svc.link_issue(entity=entity, user=manager, email="x@example.com")
    assert timedelta(days=2) < issued.link.expires_at - timezone.now() <= timedelta(days=3)


def test_a_link_takes_one_application(submitted, prospect_link, upload_root) -> None:
    link = ApplicationLink.objects.get(pk=prospect_link.link.pk)
    with pytest.raises(svc.ApplicationClosed):
        svc.application_submit(link=link, data=GOOD_ANSWERS, files=good_files())
    assert CreditApplication.objects.count() == 1


def test_information_request_reopens_the_same_application(
    submitted, prospect_link, manager, upload_root, mailoutbox
) -> None:
    svc.application_request_info(application=submitted, user=manager, text="Send the 2025 accounts, please.")
    link = ApplicationLink.objects.get(pk=prospect_link.link.pk)
    assert svc.link_accepts_answers(link)
    assert mailoutbox[-1].to == ["claire@martin.example"]
    # The e-mail carries a link to the same application (signed anew: its timestamp may differ).
    [token] = re.findall(r"/credit/apply/([^/\s]+)/", mailoutbox[-1].body)
    assert svc.link_verify(token).pk == link.pk
    # The documents given before count: only the new file is sent again.
    again = svc.application_submit(
        link=link,
        data=dict(GOOD_ANSWERS, requested_limit="30000"),
        files={"doc_financial_statements": [SimpleUploadedFile("bilan-2025-v2.pdf", PDF)]},
    )
    assert again.pk == submitted.pk and again.status == ApplicationStatus.SUBMITTED
    assert again.requested_limit == Decimal("30000")
    assert again.documents.count() == 4
    assert CreditApplication.objects.count() == 1
    with pytest.raises(svc.ApplicationClosed):
        svc.application_submit(
            link=ApplicationLink.objects.get(pk=link.pk), data=GOOD_ANSWERS, files=good_files()
        )


# --------------------------------------------------------------------------- decisions


def _terms(limit: str, **kwargs) -> svc.ApprovalTerms:
    return svc.ApprovalTerms(limit=Decimal(limit), terms_days=kwargs.pop("terms_days", 45), **kwargs)


def test_approval_below_the_threshold_creates_the_customer(submitted, manager, upload_root) -> None:
    from relance.audit.models import AuditEvent
    from relance.credit.selectors.applications import customer_documents

    expires = date.today() + timedelta(days=365)
    svc.application_review_start(application=submitted, user=manager)
    outcome = svc.application_approve(
        application=submitted, user=manager, terms=_terms("20000", expires_on=expires, customer_ref="C-NEW")
    )
    assert outcome.completed
    application = CreditApplication.objects.get(pk=submitted.pk)
    customer = application.customer
    assert customer is not None
    assert application.status == ApplicationStatus.APPROVED
    assert (customer.external_ref, customer.name, customer.currency) == (
        "C-NEW",
        "Boulangerie Martin SARL",
        "EUR",
    )
    assert (customer.credit_limit, customer.payment_terms_days) == (Decimal("20000"), 45)
    assert customer.tax_id == "FR40303265045" and customer.registration_id == "303265045"
    assert sorted(customer.contacts.values_list("email", "role")) == [
        ("claire@martin.example", "billing"),
        ("paul@martin.example", "decision maker"),
    ]
    assert CreditProfile.objects.get(customer=customer).limit_expires_on == expires
    decision = CreditDecision.objects.get(customer=customer)
    assert (decision.source, decision.kind, decision.new_limit) == (
        "application",
        "set_limit",
        Decimal("20000"),
    )
    assert application.decision == decision
    assert len(customer_documents(customer=customer)) == 3
    steps = set(
        AuditEvent.objects.filter(object_type="credit.creditapplication").values_list("action", flat=True)
    )
    assert {
        "application_submitted",
        "application_in_review",
        "application_approved",
    } <= steps


def test_approval_updates_an_existing_customer(entity, manager, customer, upload_root) -> None:
    issued = svc.link_issue(entity=entity, user=manager, customer=customer)
    application = svc.application_submit(link=issued.link, data=GOOD_ANSWERS, files=good_files())
    svc.application_approve(application=application, user=manager, terms=_terms("12000", terms_days=30))
    customer.refresh_from_db()
    assert (customer.credit_limit, customer.payment_terms_days, customer.name) == (
        Decimal("12000"),
        30,
        "Boulangerie Martin",
    )
    decision = CreditDecision.objects.get(customer=customer)
    assert decision.previous_limit == Decimal("5000")


def test_four_eyes_above_the_threshold(submitted, manager, manager2, upload_root) -> None:
    first = svc.application_approve(application=submitted, user=manager, terms=_terms("60000"))
    assert not first.completed and first.needs_second_approver
    application = CreditApplication.objects.get(pk=submitted.pk)
    assert application.status == ApplicationStatus.IN_REVIEW and application.first_approved_by == manager
    with pytest.raises(ValidationFailed) as same:
        svc.application_approve(application=application, user=manager, terms=_terms("60000"))
    assert same.value.code == "four_eyes"
    assert CreditApplication.objects.get(pk=submitted.pk).status == ApplicationStatus.IN_REVIEW
    second = svc.application_approve(application=application, user=manager2, terms=_terms("60000"))
    assert second.completed
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert (application.first_approved_by, application.decided_by) == (manager, manager2)
    assert application.customer.credit_limit == Decimal("60000")


def test_other_terms_from_the_second_approver_are_a_new_first_approval(
    submitted, manager, manager2, upload_root
) -> None:
    svc.application_approve(application=submitted, user=manager, terms=_terms("60000"))
    outcome = svc.application_approve(application=submitted, user=manager2, terms=_terms("55000"))
    assert not outcome.completed
    assert CreditApplication.objects.get(pk=submitted.pk).first_approved_by == manager2
    assert svc.application_approve(application=submitted, user=manager, terms=_terms("55000")).completed


def test_four_eyes_converts_to_the_entity_currency(submitted, entity, manager, upload_root) -> None:
    from relance.ledger.models import ExchangeRate

    CreditApplication.objects.filter(pk=submitted.pk).update(currency="GBP")
    submitted.refresh_from_db()
    ExchangeRate.objects.create(
        entity=entity,
        rate_date=date(2020, 1, 1),
        base_currency="EUR",
        quote_currency="GBP",
        rate=Decimal("0.8"),
    )
    # 45,000 GBP = 56,250 EUR: above the 50,000 EUR threshold.
    assert not svc.application_approve(application=submitted, user=manager, terms=_terms("45000")).completed
    # 35,000 GBP = 43,750 EUR: below it.
    assert (
        svc.second_approver_needed(entity=entity, limit=Decimal("35000"), currency="GBP", on=date.today())
        is False
    )
    # No rate at all: the safe side.
    assert (
        svc.second_approver_needed(entity=entity, limit=Decimal("10"), currency="JPY", on=date.today())
        is True
    )


def test_decline_keeps_the_reason(submitted, manager, upload_root, mailoutbox) -> None:
    svc.application_decline(application=submitted, user=manager, reason="Company registered 2 months ago.")
    submitted.refresh_from_db()
    assert submitted.status == ApplicationStatus.DECLINED
    assert submitted.decline_reason == "Company registered 2 months ago."
    assert "Company registered 2 months ago." in mailoutbox[-1].body
    with pytest.raises(ValidationFailed):
        svc.application_approve(application=submitted, user=manager, terms=_terms("100"))
    with pytest.raises(ValidationFailed):
        svc.application_decline(application=submitted, user=manager, reason="again")


def test_decisions_refuse_bad_terms(submitted, manager, upload_root) -> None:
    for terms in (
        _terms("0"),
        _terms("100", terms_days=0),
        _terms("100", expires_on=date.today() - timedelta(days=1)),
    ):
        with pytest.raises(ValidationFailed):
            svc.application_approve(application=submitted, user=manager, terms=terms)
    with pytest.raises(ValidationFailed):
        svc.application_decline(application=submitted, user=manager, reason=" ")
    with pytest.raises(ValidationFailed):
        svc.application_request_info(application=submitted, user=manager, text="")
