"""Rendering a message for a customer: the single entry point the outbox, the preview and the
command use (``message_render``), and saving an entity's own template after checking it."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction

from relance.audit.services import audit_record
from relance.comms import defaults
from relance.comms.context import STATEMENT_KEY, Links, message_context
from relance.comms.links import opt_out_url, pay_url_for, portal_url
from relance.comms.models import MessageTemplate, MessageTemplateVersion, TemplateVersionKind
from relance.comms.rendering import TemplateError, TemplateSource, check_template, render_template
from relance.comms.selectors import ResolvedTemplate, shipped_resolve, template_resolve
from relance.comms.types import Attachment, RenderedMessage
from relance.core.filenames import download_filename
from relance.ledger.models import Contact, Customer, Entity, Invoice

logger = logging.getLogger(__name__)

OPT_OUT_CHANNELS = ("email", "sms")
BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
STATEMENT_TONES = ("firm", "final")
DEFAULT_HOLD_DAYS = 7
QR_FORMAT = {"email": "png", "letter": "svg"}


def _one_line(text: str) -> str:
    """A subject on one line; no-break spaces (inside amounts) are kept."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def message_language(
    *, customer: Customer, contact: Contact | None = None, language: str | None = None
) -> str:
    """The language asked for, else the contact's (if the model has one), the customer's, the
    entity's, English."""
    return (
        language
        or getattr(contact, "language", "")
        or customer.language
        or customer.entity.language
        or defaults.FALLBACK_LANGUAGE
    )


def _links(
    *,
    customer: Customer,
    contact: Contact | None,
    channel: str,
    owner_message: bool,
    extra: Mapping[str, Any],
    preview: bool,
) -> Links:
    if owner_message:
        hold = ""
        if customer.sales_owner_id:
            try:
                from relance.compliance.links import owner_hold_url

                days = int(extra.get("hold_days", DEFAULT_HOLD_DAYS))
                hold = owner_hold_url(customer, customer.sales_owner, days)
            except Exception:  # the hold link is optional: never fail the owner's notification for it
                logger.warning("no hold link for customer %s", customer.pk, exc_info=True)
        return Links(portal="", pay="", opt_out="", hold=hold)
    portal = portal_url(customer, contact=contact, preview=preview)
    return Links(
        portal=portal,
        pay=pay_url_for(portal),
        opt_out=opt_out_url(contact, channel) if contact is not None and channel in OPT_OUT_CHANNELS else "",
    )


def _statement(customer: Customer, as_of: date, language: str) -> Attachment | None:
    from relance.comms.pdf import statement_pdf  # WeasyPrint loads with it: only when attaching

    content = statement_pdf(customer=customer, as_of=as_of, language=language)
    return Attachment(
        filename=download_filename(f"statement-{customer.external_ref}-{as_of.isoformat()}", "pdf"),
        content_type="application/pdf",
        content=content,
    )


def message_render(
    *,
    customer: Customer,
    template_key: str,
    channel: str,
    as_of: date,
    invoices: Sequence[Invoice] | None = None,
    contact: Contact | None = None,
    action: Any = None,
    language: str | None = None,
    message_key: str = "",
    extra: Mapping[str, object] | None = None,
    draft: TemplateSource | None = None,
    preview: bool = False,
    shipped_default: bool = False,
    with_attachments: bool = True,
) -> RenderedMessage:
    """Render ``template_key`` for ``customer`` on ``channel`` as of ``as_of``.

    The template is the entity's own (key, channel, language), else the shipped default, with the
    language falling back to its base language and then English. ``message_key`` seeds the RF
    reference, so rendering the same message again gives the same reference. Raises
    ``TemplateError`` (with the template's name and line) when the template is broken, and
    ``LookupError`` when no template has the key. ``draft`` renders an unsaved template instead
    (the preview of an edit, before it is saved); ``preview`` carries a preview portal link (no
    row, opens nothing) instead of issuing a real one (a preview must not create links). ``shipped_default``
    skips the entity's own templates (the fallback when the entity's template is broken).
    ``with_attachments=False`` leaves out the statement PDF (the Templates page's live preview, rendered
    as one types).
    """
    entity = customer.entity
    wanted = message_language(customer=customer, contact=contact, language=language)
    if shipped_default:
        resolved = shipped_resolve(key=template_key, channel=channel, language=wanted)
    elif draft is None:
        resolved = template_resolve(entity=entity, key=template_key, channel=channel, language=wanted)
    else:
        resolved = ResolvedTemplate(
            key=template_key,
            channel=channel,
            language=wanted,
            origin="draft",
            source=draft,
            name=f"draft {template_key} [{channel}, {wanted}]",
        )
    spec = defaults.KEYS.get(template_key, defaults.KeySpec())
    extra = dict(extra or {})
    links = _links(
        customer=customer,
        contact=contact,
        channel=channel,
        owner_message=spec.audience == "owner",
        extra=extra,
        preview=preview or draft is not None,
    )
    context = message_context(
        customer=customer,
        template_key=template_key,
        channel=channel,
        language=resolved.language,
        as_of=as_of,
        invoices=invoices,
        contact=contact,
        action=action,
        message_key=message_key,
        extra=extra,
        links=links,
        qr=QR_FORMAT.get(channel, ""),
    )
    values = context.as_template_context()
    source = resolved.source
    subject = ""
    if source.subject:
        subject = _one_line(
            render_template(source.subject, values, name=f"{resolved.name} subject", html=False)
        )
    values["subject"] = subject
    text = render_template(source.text, values, name=f"{resolved.name} text", html=False).strip() + "\n"
    text = BLANK_LINES.sub("\n\n", text)  # a paragraph left empty by its condition leaves no gap
    html = (
        render_template(source.html, values, name=f"{resolved.name} html", html=True) if source.html else ""
    )
    if channel in ("sms", "portal", "call"):
        text = text.strip()
    attachments: list[Attachment] = []
    if (
        with_attachments
        and channel == "email"
        and spec.audience == "customer"
        and (context.tone in STATEMENT_TONES or template_key == STATEMENT_KEY)
    ):
        statement = _statement(customer, as_of, resolved.language)
        if statement is not None:
            attachments.append(statement)
    return RenderedMessage(
        template_key=template_key,
        channel=channel,
        language=resolved.language,
        subject=subject,
        text=text,
        html=html,
        attachments=tuple(attachments),
        rf_reference=context.rf_reference,
        amount_due=context.amount_due,
        currency=context.currency,
        links=context.links.as_dict(),
    )


def message_template_check(
    *,
    subject: str,
    body_text: str,
    body_html: str,
    name: str,
    entity: Entity | None = None,
    key: str = "",
    channel: str = "email",
    language: str = "",
) -> None:
    """Compile the three parts in the sandbox, then (given the entity) render them against a sample
    customer in every language it may be sent in; raises ``TemplateError`` naming the part and line.

    Compiling alone lets ``{{ cusomer.name }}`` through (it fails only when rendered), and a failure
    at queue time would stop a whole run: so a template is refused when it is saved.
    """
    check_template(subject, name=f"{name} subject", html=False)
    check_template(body_text, name=f"{name} text", html=False)
    if body_html:
        check_template(body_html, name=f"{name} html", html=True)
    if entity is not None and key:
        source = TemplateSource(subject=subject, text=body_text, html=body_html)
        template_sample_render(entity=entity, key=key, channel=channel, language=language, source=source)


SAMPLE_REF = "SAMPLE-{token}"
"""The sample customer's reference (a random token: never one of the entity's own)."""


class _SampleDone(Exception):
    """Raised to roll the sample customer back once the template has rendered."""


def sample_languages(*, entity: Entity, language: str) -> tuple[str, ...]:
    """The languages a template of ``language`` may be rendered in: its own, and for the fallback
    language (used when a customer's language has no template) every language the entity's
    customers use, or every shipped language when it has none yet."""
    if language and language != defaults.FALLBACK_LANGUAGE:
        return (language,)
    used = {
        code for code in entity.customers.values_list("language", flat=True).order_by().distinct() if code
    }
    return tuple(dict.fromkeys([defaults.FALLBACK_LANGUAGE, *sorted(used or defaults.LANGUAGES)]))


def template_sample_render(
    *, entity: Entity, key: str, channel: str, language: str, source: TemplateSource
) -> None:
    """Render ``source`` for a sample customer (two invoices, one overdue, a billing contact),
    created in a savepoint that is rolled back: nothing stays, no link is issued."""
    from django.db import transaction
    from django.utils import timezone

    today = timezone.localdate()
    for code in sample_languages(entity=entity, language=language):
        try:
            with transaction.atomic():
                customer = Customer.objects.create(
                    entity=entity,
                    external_ref=SAMPLE_REF.format(token=secrets.token_hex(6)),
                    name="Sample Customer Ltd",
                    currency=entity.currency,
                    language=code,
                )
                contact = Contact.objects.create(
                    customer=customer,
                    name="Sam Sample",
                    role="billing",
                    email="sam@sample.invalid",
                    postal_address="1 Sample Street\n00000 Sample Town",
                )
                invoices = [
                    Invoice.objects.create(
                        entity=entity,
                        customer=customer,
                        external_ref=f"SAMPLE-INV-{number}",
                        issue_date=today - timedelta(days=days + 30),
                        due_date=today - timedelta(days=days),
                        currency=entity.currency,
                        amount=Decimal(amount),
                    )
                    for number, days, amount in ((1, 30, "1200.00"), (2, -10, "345.67"))
                ]
                message_render(
                    customer=customer,
                    template_key=key,
                    channel=channel,
                    as_of=today,
                    invoices=invoices,
                    contact=contact,
                    language=code,
                    draft=source,
                    preview=True,
                )
                raise _SampleDone
        except _SampleDone:
            continue


def message_template_save(
    *,
    entity: Any,
    key: str,
    channel: str,
    language: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    user: Any = None,
) -> MessageTemplate:
    """Create or replace an entity's template after checking that it renders for a sample customer,
    keeping the wording as a new version (``MessageTemplateVersion``); saving the same wording
    again adds no version."""
    message_template_check(
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        name=f"{key} [{channel}, {language}]",
        entity=entity,
        key=key,
        channel=channel,
        language=language,
    )
    return _template_store(
        entity=entity,
        key=key,
        channel=channel,
        language=language,
        source=TemplateSource(subject=subject, text=body_text, html=body_html),
        user=user,
        kind=TemplateVersionKind.SAVED,
    )


def _template_store(
    *,
    entity: Entity,
    key: str,
    channel: str,
    language: str,
    source: TemplateSource,
    user: Any,
    kind: str,
    reverted_from: int | None = None,
) -> MessageTemplate:
    with transaction.atomic():
        current = (
            MessageTemplate.objects.select_for_update()
            .filter(entity=entity, key=key, channel=channel, language=language)
            .first()
        )
        unchanged = current is not None and (current.subject, current.body_text, current.body_html) == (
            source.subject,
            source.text,
            source.html,
        )
        if unchanged and kind == TemplateVersionKind.SAVED:
            template_history_start(current)  # type: ignore[arg-type]
            return current  # type: ignore[return-value]
        if current is not None:
            template_history_start(current)
        template, _ = MessageTemplate.objects.update_or_create(
            entity=entity,
            key=key,
            channel=channel,
            language=language,
            defaults={
                "subject": source.subject,
                "body_text": source.text,
                "body_html": source.html,
                "updated_by": user,
            },
        )
        _version_add(
            entity=entity,
            key=key,
            channel=channel,
            language=language,
            kind=kind,
            source=source,
            author=user,
            reverted_from=reverted_from,
        )
    return template


def _version_add(
    *,
    entity: Entity,
    key: str,
    channel: str,
    language: str,
    kind: str,
    source: TemplateSource | None,
    author: Any,
    reverted_from: int | None = None,
    at: Any = None,
) -> MessageTemplateVersion:
    latest = (
        MessageTemplateVersion.objects.filter(entity=entity, key=key, channel=channel, language=language)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    version = MessageTemplateVersion.objects.create(
        entity=entity,
        key=key,
        channel=channel,
        language=language,
        number=(latest or 0) + 1,
        kind=kind,
        subject=source.subject if source else "",
        body_text=source.text if source else "",
        body_html=source.html if source else "",
        reverted_from=reverted_from,
        author=author,
    )
    if at is not None:  # the wording of a template saved before versions were kept: its own time
        MessageTemplateVersion.objects.filter(pk=version.pk).update(created_at=at)
        version.created_at = at
    return version


def template_history_start(template: MessageTemplate) -> None:
    """Give a template saved before versions were kept (or through another door) its first
    version, so that the next save keeps the wording it replaces."""
    versions = MessageTemplateVersion.objects.filter(
        entity=template.entity_id, key=template.key, channel=template.channel, language=template.language
    )
    latest = versions.order_by("-number").first()
    if (
        latest is not None
        and latest.kind != TemplateVersionKind.SHIPPED
        and (
            latest.subject,
            latest.body_text,
            latest.body_html,
        )
        == (template.subject, template.body_text, template.body_html)
    ):
        return
    _version_add(
        entity=template.entity,
        key=template.key,
        channel=template.channel,
        language=template.language,
        kind=TemplateVersionKind.SAVED,
        source=TemplateSource(subject=template.subject, text=template.body_text, html=template.body_html),
        author=template.updated_by,
        at=template.updated_at,
    )


def message_template_revert(*, version: MessageTemplateVersion, user: Any = None) -> MessageTemplate:
    """Make an earlier version's wording the entity's template again: a new version (nothing is
    rewritten), checked like any save, recorded in the audit trail as ``template_revert``."""
    if version.kind == TemplateVersionKind.SHIPPED:
        raise ValueError("a 'back to the shipped version' entry has no wording to revert to")
    source = TemplateSource(subject=version.subject, text=version.body_text, html=version.body_html)
    message_template_check(
        subject=source.subject,
        body_text=source.text,
        body_html=source.html,
        name=f"{version.key} [{version.channel}, {version.language}]",
        entity=version.entity,
        key=version.key,
        channel=version.channel,
        language=version.language,
    )
    template = _template_store(
        entity=version.entity,
        key=version.key,
        channel=version.channel,
        language=version.language,
        source=source,
        user=user,
        kind=TemplateVersionKind.REVERTED,
        reverted_from=version.number,
    )
    audit_record(
        action="template_revert",
        obj=template,
        after={"reverted_to_version": version.number},
    )
    return template


def message_template_use_shipped(
    *, entity: Entity, key: str, channel: str, language: str, user: Any = None
) -> bool:
    """Go back to the shipped version: the entity's template is deleted (its wording stays in the
    history), a ``shipped`` version marks when, and the audit trail records ``template_shipped``.
    False when the entity had no template of its own."""
    with transaction.atomic():
        template = (
            MessageTemplate.objects.select_for_update()
            .filter(entity=entity, key=key, channel=channel, language=language)
            .first()
        )
        if template is None:
            return False
        template_history_start(template)
        name = str(template)
        template.delete()
        version = _version_add(
            entity=entity,
            key=key,
            channel=channel,
            language=language,
            kind=TemplateVersionKind.SHIPPED,
            source=None,
            author=user,
        )
        audit_record(
            action="template_shipped",
            entity=entity,
            object_type="comms.messagetemplate",
            object_repr=name,
            after={"version": version.number},
        )
    return True


__all__ = [
    "TemplateError",
    "message_language",
    "message_render",
    "message_template_check",
    "message_template_revert",
    "message_template_save",
    "message_template_use_shipped",
    "template_history_start",
]
