"""Reads of credit applications for the back office and the API, scoped to what a user may see.

Scope (the back office's rule, ``relance.accounts.selectors.customer_scope``, applied to a row
that may have no customer yet): the entities the user sees; a sales owner only the applications
of the customers they own (a prospect's application has none, so it is not theirs to see). Any
other application is a ``NotFound`` (404), never a 403.

Who sees what: everyone who may read applications sees the status, the company, what was asked
and what was decided (with a decline's reason); bank details, contacts, trade references
and the files only those who may read a bureau report (credit managers, admins,
auditors): the same line as the bureau payload. Only those who may change an application
(credit managers, admins) decide.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from relance.accounts import roles
from relance.accounts.selectors import entity_list_for_user, user_can, user_role
from relance.core.errors import NotFound
from relance.credit.models import ApplicationDocument, ApplicationLink, ApplicationStatus, CreditApplication
from relance.ledger.models import Customer, Entity

PERM_VIEW = "credit.view_creditapplication"
PERM_DECIDE = "credit.change_creditapplication"
#: Who may read bank details, trade references and the documents: who may read a bureau report.
PERM_SENSITIVE = "credit.view_bureaureport"
NOT_FOUND = "credit application not found"
DOCUMENT_NOT_FOUND = "document not found"


def applications_visible(user: Any) -> QuerySet[CreditApplication]:
    """Every application ``user`` may see (none without the permission to read applications)."""
    queryset = CreditApplication.objects.all()
    if not getattr(user, "is_active", False) or not user_can(user, PERM_VIEW):
        return queryset.none()
    if not user.is_superuser:
        visible = [entity.pk for entity in entity_list_for_user(user)]
        queryset = queryset.filter(entity_id__in=visible)
        if user_role(user) in roles.OWN_CUSTOMERS_ROLES:
            queryset = queryset.filter(customer__sales_owner=user)
    return queryset


def application_list(
    *, user: Any, entity: Entity, status: str = "", limit: int = 200
) -> list[CreditApplication]:
    """The entity's applications, newest first; ``status`` one of ``ApplicationStatus`` or
    ``open`` (submitted, in review, information requested)."""
    from relance.credit.models import APPLICATION_OPEN

    queryset = applications_visible(user).filter(entity=entity)
    if status == "open":
        queryset = queryset.filter(status__in=APPLICATION_OPEN)
    elif status in ApplicationStatus.values:
        queryset = queryset.filter(status=status)
    return list(
        queryset.select_related("customer", "first_approved_by", "decided_by").order_by("-created_at", "-id")[
            :limit
        ]
    )


def application_for_user(*, user: Any, application_id: int) -> CreditApplication:
    found = (
        applications_visible(user)
        .filter(pk=application_id)
        .select_related("entity", "customer", "first_approved_by", "decided_by")
        .first()
    )
    if found is None:
        raise NotFound(NOT_FOUND)
    return found


def application_by_public_id(*, user: Any, entity: Entity, public_id: str) -> CreditApplication:
    import uuid

    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound(NOT_FOUND) from None
    found = (
        applications_visible(user)
        .filter(entity=entity, public_id=key)
        .select_related("entity", "customer", "first_approved_by", "decided_by")
        .first()
    )
    if found is None:
        raise NotFound(NOT_FOUND)
    return found


def user_can_read(user: Any) -> bool:
    return user_can(user, PERM_VIEW)


def user_sees_sensitive(user: Any) -> bool:
    return user_can(user, PERM_SENSITIVE)


def user_decides(user: Any) -> bool:
    return user_can(user, PERM_DECIDE)


def application_documents(*, application: CreditApplication) -> list[ApplicationDocument]:
    return list(ApplicationDocument.objects.filter(application=application).order_by("kind", "id"))


def application_document(*, application: CreditApplication, document_id: int) -> ApplicationDocument:
    found = ApplicationDocument.objects.filter(application=application, pk=document_id).first()
    if found is None:
        raise NotFound(DOCUMENT_NOT_FOUND)
    return found


def customer_documents(*, customer: Customer) -> list[ApplicationDocument]:
    """The documents of a customer's approved applications: the account's documentation in one
    place, newest first."""
    return list(
        ApplicationDocument.objects.filter(
            application__customer=customer, application__status=ApplicationStatus.APPROVED
        )
        .select_related("application")
        .order_by("-uploaded_at", "-id")
    )


def application_link(*, application: CreditApplication) -> ApplicationLink | None:
    return ApplicationLink.objects.filter(application=application).first()


def link_list(*, entity: Entity, limit: int = 50) -> list[ApplicationLink]:
    """The entity's links not used yet (no application), newest first."""
    return list(
        ApplicationLink.objects.filter(entity=entity, application__isnull=True)
        .select_related("customer", "created_by")
        .order_by("-created_at", "-id")[:limit]
    )


def link_for_entity(*, entity: Entity, link_id: int) -> ApplicationLink:
    found = ApplicationLink.objects.filter(entity=entity, pk=link_id).first()
    if found is None:
        raise NotFound("application link not found")
    return found


def application_summary(application: CreditApplication, *, sensitive: bool) -> dict[str, Any]:
    """The JSON-ready view of an application; bank details, references and documents only when
    ``sensitive`` (the API's and the pages' one shape)."""
    data: dict[str, Any] = {
        "id": str(application.public_id),
        "status": application.status,
        "customer_ref": application.customer.external_ref if application.customer else None,
        "legal_name": application.legal_name,
        "trading_name": application.trading_name,
        "country": application.country,
        "identifiers": dict(application.identifiers),
        "requested_limit": str(application.requested_limit),
        "currency": application.currency,
        "requested_terms_days": application.requested_terms_days,
        "submitted_at": application.submitted_at.isoformat() if application.submitted_at else None,
        "info_request": application.info_request or None,
        "approved_limit": None if application.approved_limit is None else str(application.approved_limit),
        "approved_terms_days": application.approved_terms_days,
        "limit_expires_on": application.limit_expires_on.isoformat()
        if application.limit_expires_on
        else None,
        "first_approved_by": application.first_approved_by.get_username()
        if application.first_approved_by
        else None,
        "decided_by": application.decided_by.get_username() if application.decided_by else None,
        "decided_at": application.decided_at.isoformat() if application.decided_at else None,
        "decline_reason": application.decline_reason or None,
    }
    if sensitive:
        data.update(
            address=dict(application.address),
            contacts=list(application.contacts),
            iban=application.iban,
            bic=application.bic,
            trade_references=list(application.trade_references),
            documents=[
                {
                    "id": document.pk,
                    "kind": document.kind,
                    "filename": document.filename,
                    "content_type": document.content_type,
                    "size": document.size,
                    "sha256": document.sha256,
                }
                for document in application_documents(application=application)
            ],
        )
    return data
