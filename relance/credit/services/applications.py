"""Credit applications (onboarding): the signed link, the form's answers, the workflow.

A credit manager sends a prospect (an e-mail address) or a customer (its billing contact) a
signed link to the form. The customer's answers are checked field by field and stored only when
every field is good (no half application, no orphan file). The application then goes submitted →
in review → approved / declined / more information requested (the same link reopens it with the
earlier answers). An approval above ``CreditSettings.four_eyes_above`` (in the entity's currency)
needs a second approver who is not the first. The approval creates or updates the customer
through the ingestion layer (the one way customers are written), sets its limit, terms and limit
expiry, records a ``CreditDecision`` and keeps the application's documents with the customer.

Messages in the applicant's language go through ``relance.portal.notify`` (the outbox) for a
customer; a prospect has no customer row yet, and the outbox keeps one per message, so a
prospect's e-mails go through Django's mail.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from relance.audit.context import audit_actor
from relance.audit.services import audit_record
from relance.common.links import absolute_url
from relance.core import identifiers
from relance.core.errors import NotFound, ValidationFailed
from relance.credit.models import (
    APPLICATION_OPEN,
    ApplicationDocument,
    ApplicationLink,
    ApplicationStatus,
    CreditApplication,
    CreditDecision,
    CreditProfile,
    DecisionKind,
    DecisionSource,
    DocumentKind,
)
from relance.credit.selectors.settings import credit_settings_for
from relance.events.services import emit
from relance.ledger.models import Contact, Customer, Entity
from relance.portal import uploads
from relance.portal.links import token_id_from, token_id_new, token_sign

logger = logging.getLogger(__name__)

TOKEN_SALT = "relance.credit.application"  # noqa: S105  (a signing salt, not a secret)
TERMS_DAYS_MAX = 365
REFERENCES_MAX = 3
OTHER_DOCUMENTS_MAX = uploads.MAX_FILES
#: The documents every application must carry (uploaded now or with an earlier answer).
REQUIRED_DOCUMENTS = (
    DocumentKind.FINANCIAL_STATEMENTS,
    DocumentKind.REGISTRATION_EXTRACT,
    DocumentKind.SIGNED_TERMS,
)
IDENTIFIER_FIELDS = ("vat", "siren", "siret", "company_number", "duns")
TEXT_LIMITS = {
    "legal_name": 200,
    "trading_name": 200,
    "address_line1": 200,
    "address_line2": 200,
    "postcode": 20,
    "city": 100,
    "ap_name": 200,
    "dm_name": 200,
}

# What the applicant reads (translated in relance/credit/locale; gettext_noop keeps them there).
REQUIRED = gettext_noop("This field is required.")
TOO_LONG = gettext_noop("At most {limit} characters.")
TEXT_UNSAFE = gettext_noop("Remove the control characters from this field.")
COUNTRY_UNKNOWN = gettext_noop("Choose a country.")
IDENTIFIER_NEEDED = gettext_noop(
    "Give at least one company identifier: VAT, SIREN, SIRET, company number or D-U-N-S."
)
IDENTIFIER_INVALID = {
    "vat": gettext_noop("This VAT number is not valid."),
    "siren": gettext_noop("This SIREN is not valid: nine digits, for a French company."),
    "siret": gettext_noop("This SIRET is not valid: fourteen digits, for a French company."),
    "company_number": gettext_noop("This company number is not valid."),
    "duns": gettext_noop("A D-U-N-S number has nine digits."),
}
EMAIL_INVALID = gettext_noop("Enter a valid e-mail address.")
PHONE_INVALID = gettext_noop("Enter a valid phone number, with its country code (+44…) if it is abroad.")
IBAN_INVALID = gettext_noop("This IBAN is not valid.")
BIC_INVALID = gettext_noop("This BIC is not valid.")
REFERENCE_INCOMPLETE = gettext_noop("Give the company's name and an e-mail address or a phone number.")
AMOUNT_INVALID = gettext_noop("Enter an amount above zero, such as 25000.")
CURRENCY_INVALID = gettext_noop("Choose a currency.")
TERMS_INVALID = gettext_noop("Enter a number of days from 1 to 365.")
DOCUMENT_MISSING = gettext_noop("Attach this document.")
FORM_REFUSED = gettext_noop("Some answers need your attention: nothing was saved yet.")

# What the back office reads (English, like the workspace).
NOT_FOUND = "credit application not found"
LINK_NOT_FOUND = "application link not found"
STATE_REFUSED = "the application is {status}: it cannot be {what} now"
SAME_APPROVER = (
    "a limit of {limit} {currency} needs a second approver, and {user} gave the first approval: "
    "another credit manager must approve it"
)
LIMIT_INVALID = "the limit must be above 0, found {value}"
TERMS_DAYS_INVALID = "payment terms are 1 to 365 days, found {value}"
EXPIRY_INVALID = "the limit's expiry must be after today ({today}), found {value}"
REASON_NEEDED = "say why (the customer reads it)"
LINK_REVOKED = "the application's link was revoked: send a new link"
CUSTOMER_NO_EMAIL = "customer {ref} has no billing contact with an e-mail address: give one"
EMAIL_NEEDED = "an e-mail address is needed to send the link to a prospect"
LINK_DAYS_INVALID = "a link lasts 1 to 366 days, not {days}"
CUSTOMER_REF_INVALID = "customer ref: {message}"


class ApplicationRefused(ValidationFailed):
    """The form's answers refused, field by field (``errors``: field name → translated sentence)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {text}" for name, text in errors.items()), code="invalid")
        self.errors = dict(errors)


class ApplicationLinkRefused(Exception):
    """The token is not an application link that opens now. ``reason``: bad, expired or revoked."""

    def __init__(self, reason: str, link: ApplicationLink | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.link = link


class ApplicationClosed(Exception):
    """The link's application was submitted and waits for a decision (or has one)."""

    def __init__(self, application: CreditApplication) -> None:
        super().__init__(application.status)
        self.application = application


# --------------------------------------------------------------------------- settings and links


def link_token(link: ApplicationLink) -> str:
    return token_sign(link.token_id, salt=TOKEN_SALT)


def link_path(link: ApplicationLink) -> str:
    return reverse("credit:apply", args=[link_token(link)])


def link_url(link: ApplicationLink) -> str:
    return absolute_url(link_path(link))


def link_verify(token: str, *, now: datetime | None = None) -> ApplicationLink:
    """The link a token opens now, or ``ApplicationLinkRefused`` (bad, expired, revoked)."""
    from relance.portal.links import LinkRefused

    try:
        token_id = token_id_from(token, salt=TOKEN_SALT)
    except LinkRefused:
        raise ApplicationLinkRefused("bad") from None
    link = (
        ApplicationLink.objects.select_related("entity", "customer", "application")
        .filter(token_id=token_id)
        .first()
    )
    if link is None:
        raise ApplicationLinkRefused("bad")
    if link.revoked_at is not None:
        raise ApplicationLinkRefused("revoked", link)
    if link.expires_at <= (now or timezone.now()):
        raise ApplicationLinkRefused("expired", link)
    return link


def link_accepts_answers(link: ApplicationLink) -> bool:
    """A link takes answers once, and again only while more information is requested."""
    application = link.application
    return application is None or application.status == ApplicationStatus.INFO_REQUESTED


@dataclass(frozen=True)
class IssuedLink:
    link: ApplicationLink
    url: str
    sent: bool


def link_issue(
    *,
    entity: Entity,
    user: Any,
    customer: Customer | None = None,
    email: str = "",
    language: str = "",
    days: int | None = None,
    send: bool = True,
) -> IssuedLink:
    """A new link to the form for a prospect (``email``) or a customer (its billing contact's
    address unless ``email`` is given), sent at once in the applicant's language (``send=False``:
    only made, for the demo)."""
    from relance.portal.notify import recipient_for

    email = (email or "").strip()
    contact: Contact | None = None
    if customer is not None and customer.entity_id != entity.pk:
        raise NotFound("customer not found")
    if not email and customer is not None:
        email, contact = recipient_for(customer=customer, contact=None)
        if not email:
            raise ValidationFailed(CUSTOMER_NO_EMAIL.format(ref=customer.external_ref), code="email_missing")
    if not email:
        raise ValidationFailed(EMAIL_NEEDED, code="email_missing")
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed(f"invalid e-mail address {email!r}", code="email_invalid") from None
    language = _language_code(language or (customer.language if customer else "") or entity.language)
    if days is None:
        days = credit_settings_for(entity=entity).application_link_days
    if not 1 <= days <= 366:
        raise ValidationFailed(LINK_DAYS_INVALID.format(days=days), code="days_invalid")
    link = ApplicationLink.objects.create(
        entity=entity,
        customer=customer,
        email=email,
        language=language,
        token_id=token_id_new(),
        expires_at=timezone.now() + timedelta(days=days),
        created_by=user if getattr(user, "pk", None) else None,
    )
    url = link_url(link)
    sent = False
    with translation.override(language):
        sent = send and _send(
            link=link,
            key=f"credit-application-link:{link.pk}",
            template_key="credit_application_link",
            subject=_("Your credit application with {creditor}").format(creditor=_creditor(entity)),
            text=_(
                "{creditor} invites you to apply for trade credit. Fill in the form (company details, "
                "bank details, references and documents) with this link, valid until {date}: {url}"
            ).format(creditor=_creditor(entity), date=link.expires_at.date().isoformat(), url=url),
            contact=contact,
        )
    audit_record(
        action="application_link_sent",
        obj=link,
        after={"email": email, "customer": customer.external_ref if customer else None, "sent": sent},
    )
    return IssuedLink(link, url, sent)


def link_revoke(*, link: ApplicationLink) -> bool:
    """Revoke a link at once; False if it was already revoked."""
    if link.revoked_at is not None:
        return False
    link.revoked_at = timezone.now()
    link.save(update_fields=["revoked_at", "updated_at"])
    return True


def _language_code(value: str) -> str:
    from django.conf import settings

    codes = [code for code, _name in settings.LANGUAGES]
    value = (value or "").lower().replace("_", "-")
    if value in codes:
        return value
    if value.startswith("zh"):
        return "zh-hans"
    base = value.split("-")[0]
    return base if base in codes else "en"


def _creditor(entity: Entity) -> str:
    return str(getattr(entity, "legal_name", "") or entity.name)


def _send(
    *,
    link: ApplicationLink,
    key: str,
    template_key: str,
    subject: str,
    text: str,
    contact: Contact | None = None,
) -> bool:
    """One e-mail to the applicant: through the outbox for a customer, Django's mail for a
    prospect (an outbox row belongs to a customer). Never raises: the step it tells of stands."""
    from relance.portal import notify

    customer = link.customer
    if customer is not None:
        return notify.message_send(
            customer=customer,
            outgoing=notify.Outgoing(template_key, subject, text),
            idempotency_key=key,
            recipient=link.email,
            contact=contact,
        )
    from django.conf import settings
    from django.core.mail import send_mail

    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [link.email])
    except Exception:  # the mail server refused: logged, the step stands
        logger.exception("credit application message %s not sent", key)
        return False
    return True


# --------------------------------------------------------------------------- the answers


@dataclass(frozen=True)
class ApplicationAnswers:
    """The form's answers once every field is good, in the model's shapes."""

    legal_name: str
    trading_name: str
    country: str
    identifiers: dict[str, str]
    address: dict[str, str]
    contacts: list[dict[str, str]]
    iban: str
    bic: str
    trade_references: list[dict[str, str]]
    requested_limit: Decimal
    currency: str
    requested_terms_days: int


@dataclass(frozen=True)
class CheckedDocument:
    kind: str
    upload: UploadedFile[Any]
    sniffed: uploads.SniffedFile


@dataclass
class _Checker:
    data: Mapping[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def refuse(self, name: str, template: str, **params: object) -> None:
        if name not in self.errors:
            text = _(template)
            self.errors[name] = text.format(**params) if params else text

    def text(self, name: str, *, required: bool = False) -> str:
        value = " ".join(str(self.data.get(name) or "").split())
        if required and not value:
            self.refuse(name, REQUIRED)
        limit = TEXT_LIMITS.get(name, 200)
        if len(value) > limit:
            self.refuse(name, TOO_LONG, limit=limit)
        if identifiers.has_unsafe_text(value):
            self.refuse(name, TEXT_UNSAFE)
        return value

    def email(self, name: str, *, required: bool = False) -> str:
        value = self.text(name, required=required)
        if value:
            try:
                validate_email(value)
            except DjangoValidationError:
                self.refuse(name, EMAIL_INVALID)
        return value.lower() if value else ""

    def phone(self, name: str, country: str, *, required: bool = False) -> str:
        value = self.text(name, required=required)
        if not value:
            return ""
        try:
            return identifiers.normalise_phone(value, country or None)
        except ValidationFailed:
            self.refuse(name, PHONE_INVALID)
            return value


def answers_check(data: Mapping[str, str]) -> ApplicationAnswers:
    """The answers of the form (text fields as posted), or ``ApplicationRefused`` naming every
    field that is missing or wrong."""
    checker = _Checker(data)
    legal_name = checker.text("legal_name", required=True)
    trading_name = checker.text("trading_name")
    country = ""
    raw_country = checker.text("country", required=True)
    if raw_country:
        try:
            country = identifiers.validate_country(raw_country)
        except ValidationFailed:
            checker.refuse("country", COUNTRY_UNKNOWN)
    ids: dict[str, str] = {}
    for kind in IDENTIFIER_FIELDS:
        value = checker.text(kind)
        if not value:
            continue
        try:
            ids[kind] = identifiers.validate_identifier(kind, value, country or None)
        except ValidationFailed:
            checker.refuse(kind, IDENTIFIER_INVALID[kind])
    if not ids and not any(kind in checker.errors for kind in IDENTIFIER_FIELDS):
        checker.refuse("vat", IDENTIFIER_NEEDED)
    address = {
        "line1": checker.text("address_line1", required=True),
        "line2": checker.text("address_line2"),
        "postcode": checker.text("postcode", required=True),
        "city": checker.text("city", required=True),
        "country": country,
    }
    contacts = [
        {
            "role": "accounts_payable",
            "name": checker.text("ap_name", required=True),
            "email": checker.email("ap_email", required=True),
            "phone": checker.phone("ap_phone", country, required=True),
        },
        {
            "role": "decision_maker",
            "name": checker.text("dm_name", required=True),
            "email": checker.email("dm_email", required=True),
            "phone": checker.phone("dm_phone", country),
        },
    ]
    iban = bic = ""
    raw_iban = "".join(str(data.get("iban") or "").split())
    if not raw_iban:
        checker.refuse("iban", REQUIRED)
    else:
        try:
            iban = identifiers.normalise_iban(raw_iban)
        except ValidationFailed:
            checker.refuse("iban", IBAN_INVALID)
    raw_bic = "".join(str(data.get("bic") or "").split())
    if raw_bic:
        try:
            bic = identifiers.normalise_bic(raw_bic)
        except ValidationFailed:
            checker.refuse("bic", BIC_INVALID)
    references = []
    for number in range(1, REFERENCES_MAX + 1):
        prefix = f"ref{number}_"
        reference = {
            "company": checker.text(prefix + "company"),
            "contact": checker.text(prefix + "contact"),
            "email": checker.email(prefix + "email"),
            "phone": checker.phone(prefix + "phone", country),
        }
        if not any(reference.values()):
            continue
        if not reference["company"] or not (reference["email"] or reference["phone"]):
            checker.refuse(prefix + "company", REFERENCE_INCOMPLETE)
        references.append(reference)
    limit = _amount(checker, "requested_limit")
    currency = checker.text("currency", required=True).upper()
    if currency and not re.fullmatch(r"[A-Z]{3}", currency):
        checker.refuse("currency", CURRENCY_INVALID)
    elif currency:
        from relance.core.money import validate_currency

        try:
            validate_currency(currency)
        except ValidationFailed:
            checker.refuse("currency", CURRENCY_INVALID)
    terms = _terms(checker, "requested_terms_days")
    if checker.errors:
        raise ApplicationRefused(checker.errors)
    return ApplicationAnswers(
        legal_name=legal_name,
        trading_name=trading_name,
        country=country,
        identifiers=ids,
        address=address,
        contacts=contacts,
        iban=iban,
        bic=bic,
        trade_references=references,
        requested_limit=limit or Decimal(0),
        currency=currency,
        requested_terms_days=terms or 0,
    )


def _amount(checker: _Checker, name: str) -> Decimal | None:
    raw = checker.text(name, required=True).replace(" ", "").replace(",", ".")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value <= 0 or value >= Decimal("1e14") or -value.as_tuple().exponent > 4:  # type: ignore[operator]
        checker.refuse(name, AMOUNT_INVALID)
        return None
    return value


def _terms(checker: _Checker, name: str) -> int | None:
    raw = checker.text(name, required=True)
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= TERMS_DAYS_MAX:
        checker.refuse(name, TERMS_INVALID)
        return None
    return int(raw)


def documents_check(
    *,
    files: Mapping[str, Sequence[UploadedFile[Any]]],
    limit: int,
    already: frozenset[str] = frozenset(),
) -> tuple[list[CheckedDocument], dict[str, str]]:
    """The uploads that pass the portal's rule (``relance.portal.uploads.upload_check``) and the
    errors by field (``doc_<kind>``); a required kind not uploaded and not ``already`` given is an
    error too."""
    checked: list[CheckedDocument] = []
    errors: dict[str, str] = {}
    for kind in DocumentKind.values:
        name = f"doc_{kind}"
        given = [upload for upload in files.get(name, ()) if upload is not None]
        if kind != DocumentKind.OTHER:
            given = given[:1]
        elif len(given) > OTHER_DOCUMENTS_MAX:
            errors[name] = _(uploads.UPLOAD_TOO_MANY).format(limit=OTHER_DOCUMENTS_MAX)
            continue
        for upload in given:
            try:
                sniffed = uploads.upload_check(upload, limit)
            except uploads.UploadRefused as refused:
                text = _(refused.template)
                errors[name] = text.format(**refused.params) if refused.params else text
                break
            checked.append(CheckedDocument(kind, upload, sniffed))
        if kind in REQUIRED_DOCUMENTS and not given and kind not in already and name not in errors:
            errors[name] = _(DOCUMENT_MISSING)
    return checked, errors


# --------------------------------------------------------------------------- submission


def application_submit(
    *,
    link: ApplicationLink,
    data: Mapping[str, str],
    files: Mapping[str, Sequence[UploadedFile[Any]]],
) -> CreditApplication:
    """Store the answers of a link's form: a new application, or the same one again after more
    information was requested. Every field is checked first; if any is wrong nothing is written
    (``ApplicationRefused``), and a failure while writing removes the files already stored."""
    from relance.portal.selectors import portal_settings_for

    if not link_accepts_answers(link):
        assert link.application is not None
        raise ApplicationClosed(link.application)
    already = frozenset(
        ApplicationDocument.objects.filter(application=link.application).values_list("kind", flat=True)
        if link.application is not None
        else ()
    )
    errors: dict[str, str] = {}
    answers: ApplicationAnswers | None = None
    try:
        answers = answers_check(data)
    except ApplicationRefused as refused:
        errors.update(refused.errors)
    limit = portal_settings_for(entity=link.entity).attachment_max_bytes
    documents, document_errors = documents_check(files=files, limit=limit, already=already)
    errors.update(document_errors)
    if errors or answers is None:
        raise ApplicationRefused(errors)
    stored: list[str] = []
    try:
        with _applicant_audit(link), transaction.atomic():
            application = _application_write(link, answers, documents, stored)
    except BaseException:
        for name in stored:
            ApplicationDocument.file.field.storage.delete(name)
        raise
    return application


def _applicant_audit(link: ApplicationLink) -> AbstractContextManager[None]:
    """The applicant's changes recorded as ``credit application link <id>``, with the request's
    address when there is one (the middleware's context is kept, only the label is set)."""
    from dataclasses import replace

    from relance.audit.context import audit_context, audit_context_set

    label = f"credit application link {link.pk}"
    current = audit_context()
    if current is None:
        return audit_actor(label=label)
    return audit_context_set(replace(current, label=label, user=None))


def _application_write(
    link: ApplicationLink,
    answers: ApplicationAnswers,
    documents: Sequence[CheckedDocument],
    stored: list[str],
) -> CreditApplication:
    locked = (
        ApplicationLink.objects.select_for_update(of=("self",)).select_related("application").get(pk=link.pk)
    )
    if not link_accepts_answers(locked):  # two submissions at once: the first one wins
        assert locked.application is not None
        raise ApplicationClosed(locked.application)
    application = locked.application or CreditApplication(entity_id=link.entity_id, customer=link.customer)
    again = application.pk is not None
    application.language = link.language
    application.legal_name = answers.legal_name
    application.trading_name = answers.trading_name
    application.country = answers.country
    application.identifiers = answers.identifiers
    application.address = answers.address
    application.contacts = answers.contacts
    application.iban = answers.iban
    application.bic = answers.bic
    application.trade_references = answers.trade_references
    application.requested_limit = answers.requested_limit
    application.currency = answers.currency
    application.requested_terms_days = answers.requested_terms_days
    application.status = ApplicationStatus.SUBMITTED
    application.submitted_at = timezone.now()
    application.save()
    for document in documents:
        upload = document.upload
        upload.seek(0)
        row = ApplicationDocument(
            application=application,
            kind=document.kind,
            filename=uploads.safe_filename(upload.name or "", document.sniffed.extension),
            content_type=document.sniffed.content_type,
            size=upload.size or 0,
            sha256=_sha256(upload),
        )
        upload.seek(0)
        row.file.save(f"{secrets.token_hex(16)}.bin", upload, save=False)
        stored.append(str(row.file.name))
        row.save()
    if not again:
        locked.application = application
        locked.save(update_fields=["application", "updated_at"])
    audit_record(
        action="application_resubmitted" if again else "application_submitted",
        obj=application,
        after={"link": link.pk, "documents": len(documents)},
    )
    return application


def _sha256(upload: UploadedFile[Any]) -> str:
    import hashlib

    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- the workflow


def _today(entity: Entity) -> date:
    from relance.portal.selectors import portal_today

    return portal_today(entity=entity)


def _state_check(application: CreditApplication, what: str, allowed: Sequence[str]) -> None:
    if application.status not in allowed:
        raise ValidationFailed(
            STATE_REFUSED.format(status=application.get_status_display().lower(), what=what),
            code="application_state",
        )


@transaction.atomic
def application_review_start(*, application: CreditApplication, user: Any) -> CreditApplication:
    """A credit manager takes a submitted application: it is in review."""
    application = _locked(application)
    _state_check(application, "taken in review", (ApplicationStatus.SUBMITTED,))
    application.status = ApplicationStatus.IN_REVIEW
    application.save(update_fields=["status", "updated_at"])
    audit_record(action="application_in_review", actor=user, obj=application)
    return application


@transaction.atomic
def application_request_info(*, application: CreditApplication, user: Any, text: str) -> CreditApplication:
    """Ask the applicant for more: the same link reopens the form with their earlier answers (its
    validity is extended to the entity's link days from now when it would lapse sooner)."""
    application = _locked(application)
    _state_check(
        application, "sent back for information", (ApplicationStatus.SUBMITTED, ApplicationStatus.IN_REVIEW)
    )
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(REASON_NEEDED, code="text_missing")
    identifiers.check_plain_text(text, multiline=True)
    link = ApplicationLink.objects.select_for_update().filter(application=application).first()
    if link is None or link.revoked_at is not None:
        raise ValidationFailed(LINK_REVOKED, code="link_revoked")
    days = credit_settings_for(entity=application.entity).application_link_days
    until = timezone.now() + timedelta(days=days)
    if link.expires_at < until:
        link.expires_at = until
        link.save(update_fields=["expires_at", "updated_at"])
    application.status = ApplicationStatus.INFO_REQUESTED
    application.info_request = text[:4000]
    application.first_approved_by = None
    application.first_approved_at = None
    application.save()
    audit_record(action="application_info_requested", actor=user, obj=application, after={"text": text})
    with translation.override(link.language):
        _send(
            link=link,
            key=f"credit-application-info:{application.pk}:{timezone.now().timestamp():.0f}",
            template_key="credit_application_info_requested",
            subject=_("Your credit application: more information needed"),
            text=_(
                "We need more information to decide on your credit application: {text}\n"
                "Please complete your application with the same link (your earlier answers are kept): {url}"
            ).format(text=text, url=link_url(link)),
        )
    return application


@transaction.atomic
def _decided_emit(application: CreditApplication) -> None:
    """``credit.application_decided`` (approved or declined), for the CRM or ERP that sent it."""
    emit(
        "credit.application_decided",
        {
            "application_id": str(application.pk),
            "status": application.status,
            "approved_limit": application.approved_limit,
            "currency": application.currency,
        },
        entity=application.entity_id,
        customer=application.customer,
    )


def application_decline(*, application: CreditApplication, user: Any, reason: str) -> CreditApplication:
    """Decline with a reason (the applicant, sales and support read it)."""
    application = _locked(application)
    _state_check(application, "declined", APPLICATION_OPEN)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(REASON_NEEDED, code="reason_missing")
    identifiers.check_plain_text(reason, multiline=True)
    today = _today(application.entity)
    decision = None
    if application.customer is not None:
        customer = application.customer
        decision = CreditDecision.objects.create(
            entity=application.entity,
            customer=customer,
            kind=DecisionKind.DECLINE,
            source=DecisionSource.APPLICATION,
            decided_on=today,
            decided_by=user,
            previous_limit=customer.credit_limit,
            new_limit=customer.credit_limit,
            currency=customer.currency,
            previous_terms_days=customer.payment_terms_days,
            new_terms_days=customer.payment_terms_days,
            reasons=[reason],
        )
    application.status = ApplicationStatus.DECLINED
    application.decline_reason = reason[:4000]
    application.decided_by = user
    application.decided_at = timezone.now()
    application.decision = decision
    application.save()
    _decided_emit(application)
    audit_record(action="application_declined", actor=user, obj=application, after={"reason": reason})
    link = ApplicationLink.objects.filter(application=application).first()
    if link is not None:
        with translation.override(link.language):
            _send(
                link=link,
                key=f"credit-application-decided:{application.pk}",
                template_key="credit_application_declined",
                subject=_("Your credit application"),
                text=_("We cannot grant the credit you applied for: {reason}").format(reason=reason),
            )
    return application


@dataclass(frozen=True)
class ApprovalTerms:
    limit: Decimal
    terms_days: int
    expires_on: date | None = None
    customer_ref: str = ""
    note: str = ""


@dataclass(frozen=True)
class ApprovalOutcome:
    application: CreditApplication
    completed: bool
    needs_second_approver: bool
    message: str


def approval_currency(application: CreditApplication) -> str:
    """The currency of an approved limit: the customer's (one home for the limit), or the
    application's for a prospect (its customer is created in that currency)."""
    return application.customer.currency if application.customer is not None else application.currency


def second_approver_needed(*, entity: Entity, limit: Decimal, currency: str, on: date) -> bool:
    """Above ``four_eyes_above`` in the entity's currency (converted with the entity's imported
    rates, ``relance.core.rates``); a limit that cannot be converted (no rate) needs a second
    approver too: the safe side."""
    from relance.core.rates import MissingRate
    from relance.ledger.selectors import rate_table

    threshold = credit_settings_for(entity=entity).four_eyes_above
    try:
        converted = rate_table(entity=entity, on=on).convert(limit, currency, entity.currency, on)
    except MissingRate:
        return True
    return converted > threshold


@transaction.atomic
def application_approve(
    *, application: CreditApplication, user: Any, terms: ApprovalTerms
) -> ApprovalOutcome:
    """Approve a limit, terms and expiry. Above the four-eyes threshold the first approval is
    recorded and a second approver, not the first, completes it with the same terms (other terms
    from anyone make a new first approval)."""
    application = _locked(application)
    _state_check(application, "approved", (ApplicationStatus.SUBMITTED, ApplicationStatus.IN_REVIEW))
    today = _today(application.entity)
    if not terms.limit.is_finite() or terms.limit <= 0:
        raise ValidationFailed(LIMIT_INVALID.format(value=terms.limit), code="limit_invalid")
    if not 1 <= terms.terms_days <= TERMS_DAYS_MAX:
        raise ValidationFailed(TERMS_DAYS_INVALID.format(value=terms.terms_days), code="terms_invalid")
    if terms.expires_on is not None and terms.expires_on <= today:
        raise ValidationFailed(
            EXPIRY_INVALID.format(today=today, value=terms.expires_on), code="expiry_invalid"
        )
    if terms.note:
        identifiers.check_plain_text(terms.note, multiline=True)
    currency = approval_currency(application)
    limit = terms.limit.quantize(Decimal("0.0001"))
    if second_approver_needed(entity=application.entity, limit=limit, currency=currency, on=today):
        same_terms = (
            application.first_approved_by_id is not None
            and application.approved_limit == limit
            and application.approved_terms_days == terms.terms_days
            and application.limit_expires_on == terms.expires_on
        )
        if same_terms and application.first_approved_by_id == getattr(user, "pk", None):
            raise ValidationFailed(
                SAME_APPROVER.format(limit=limit, currency=currency, user=user.get_username()),
                code="four_eyes",
            )
        if not same_terms:
            application.status = ApplicationStatus.IN_REVIEW
            application.approved_limit = limit
            application.approved_terms_days = terms.terms_days
            application.limit_expires_on = terms.expires_on
            application.first_approved_by = user
            application.first_approved_at = timezone.now()
            application.save()
            audit_record(
                action="application_first_approval",
                actor=user,
                obj=application,
                after={"limit": limit, "currency": currency, "terms_days": terms.terms_days},
            )
            return ApprovalOutcome(
                application,
                completed=False,
                needs_second_approver=True,
                message=f"First approval recorded: a limit of {limit:,.2f} {currency} needs a second "
                "approver (another credit manager).",
            )
    _approval_complete(application, user, limit, currency, terms, today)
    return ApprovalOutcome(
        application,
        completed=True,
        needs_second_approver=False,
        message=f"Approved: {application.customer.name if application.customer else ''} has a limit of "
        f"{limit:,.2f} {currency}, {terms.terms_days} days.",
    )


def _approval_complete(
    application: CreditApplication,
    user: Any,
    limit: Decimal,
    currency: str,
    terms: ApprovalTerms,
    today: date,
) -> None:
    customer = _customer_write(application, limit, currency, terms)
    previous_limit, previous_terms = getattr(customer, "_previous", (None, None))
    CreditProfile.objects.update_or_create(
        customer=customer,
        defaults={"entity": application.entity, "limit_expires_on": terms.expires_on, "limit_set_on": today},
    )
    decision = CreditDecision.objects.create(
        entity=application.entity,
        customer=customer,
        kind=DecisionKind.SET_LIMIT,
        source=DecisionSource.APPLICATION,
        decided_on=today,
        decided_by=user,
        previous_limit=previous_limit,
        new_limit=limit,
        currency=currency,
        previous_terms_days=previous_terms,
        new_terms_days=terms.terms_days,
        limit_expires_on=terms.expires_on,
        reasons=[f"credit application {application.pk} approved"]
        + (
            [f"second approver after {application.first_approved_by.get_username()}"]
            if application.first_approved_by
            else []
        ),
        note=terms.note,
    )
    application.customer = customer
    application.status = ApplicationStatus.APPROVED
    application.approved_limit = limit
    application.approved_terms_days = terms.terms_days
    application.limit_expires_on = terms.expires_on
    application.decided_by = user
    application.decided_at = timezone.now()
    application.decision = decision
    application.save()
    _decided_emit(application)
    ApplicationLink.objects.filter(application=application, customer__isnull=True).update(customer=customer)
    audit_record(
        action="application_approved",
        actor=user,
        obj=application,
        after={
            "customer": customer.external_ref,
            "limit": limit,
            "currency": currency,
            "terms_days": terms.terms_days,
            "expires_on": terms.expires_on,
            "first_approver": application.first_approved_by.get_username()
            if application.first_approved_by
            else None,
        },
    )
    link = ApplicationLink.objects.filter(application=application).select_related("customer").first()
    if link is not None:
        with translation.override(link.language):
            _send(
                link=link,
                key=f"credit-application-decided:{application.pk}",
                template_key="credit_application_approved",
                subject=_("Your credit application"),
                text=_(
                    "Your credit application is approved: a limit of {limit} {currency}, payment at {days} days."
                ).format(limit=f"{limit:,.2f}", currency=currency, days=terms.terms_days),
            )


def _customer_write(
    application: CreditApplication, limit: Decimal, currency: str, terms: ApprovalTerms
) -> Customer:
    """Create or update the customer through the ingestion layer (the one way customers are
    written: validation, data versions, search text), then its contacts for a new one."""
    from relance.ingest.records import ContactRecord, CustomerRecord, upsert_records

    customer = application.customer
    ref = terms.customer_ref.strip() or (customer.external_ref if customer else f"APP-{application.pk:06d}")
    if identifiers.has_unsafe_text(ref) or len(ref) > 64:
        raise ValidationFailed(CUSTOMER_REF_INVALID.format(message="plain text of at most 64 characters"))
    existing = customer or Customer.objects.filter(entity=application.entity, external_ref=ref).first()
    previous = (existing.credit_limit, existing.payment_terms_days) if existing else (None, None)
    if existing is not None:
        record = CustomerRecord(
            customer_ref=existing.external_ref,
            name=existing.name,
            credit_limit=limit,
            payment_terms_days=terms.terms_days,
        )
        upsert_records("customers", [record], entity=application.entity)
    else:
        registration = next(
            (
                application.identifiers[k]
                for k in ("siren", "siret", "company_number", "duns")
                if application.identifiers.get(k)
            ),
            None,
        )
        record = CustomerRecord(
            customer_ref=ref,
            name=application.legal_name,
            currency=currency,
            payment_terms_days=terms.terms_days,
            credit_limit=limit,
            language=application.language or None,
            country=application.country or None,
            tax_id=application.identifiers.get("vat") or None,
            registration_id=registration,
        )
        upsert_records("customers", [record], entity=application.entity)
        contacts = []
        seen: set[str] = set()
        for contact in application.contacts:
            email = contact.get("email") or ""
            if not email or email in seen:
                continue
            seen.add(email)
            contacts.append(
                ContactRecord(
                    customer_ref=ref,
                    name=contact.get("name") or None,
                    role="billing" if contact.get("role") == "accounts_payable" else "decision maker",
                    email=email,
                    phone=contact.get("phone") or None,
                )
            )
        if contacts:
            upsert_records("contacts", contacts, entity=application.entity)
    written = Customer.objects.get(
        entity=application.entity, external_ref=existing.external_ref if existing else ref
    )
    written._previous = previous  # type: ignore[attr-defined]
    return written


def _locked(application: CreditApplication) -> CreditApplication:
    found = (
        CreditApplication.objects.select_for_update(of=("self",))
        .select_related("entity", "customer", "first_approved_by")
        .filter(pk=application.pk)
        .first()
    )
    if found is None:
        raise NotFound(NOT_FOUND)
    return found
