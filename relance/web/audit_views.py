"""The audit page: searchable, paginated, for the roles that hold ``audit.view_auditevent``.

It sits in web, above accounts: the recorder (relance.audit) stays low, its page scopes by user here."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from relance.accounts.selectors import entities_for_user, user_can, user_sees_all_entities
from relance.audit.models import AuditAction
from relance.audit.selectors import AuditFilters, audit_event_list
from relance.core.calendar import parse_iso_date
from relance.core.errors import ValidationFailed

PAGE_SIZE = 50
NOT_ALLOWED = "Only administrators and auditors can read the audit trail."


def _day(value: str):  # type: ignore[no-untyped-def]
    try:
        return parse_iso_date(value) if value else None
    except ValidationFailed:
        return None


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    if not user_can(request.user, "audit.view_auditevent"):
        raise PermissionDenied(NOT_ALLOWED)
    query = request.GET
    filters = AuditFilters(
        actor=query.get("actor", "").strip(),
        entity=query.get("entity_name", "").strip(),
        object=query.get("object", "").strip(),
        action=query.get("action", "").strip(),
        date_from=_day(query.get("from", "")),
        date_to=_day(query.get("to", "")),
    )
    seen = None if user_sees_all_entities(request.user) else [e.pk for e in entities_for_user(request.user)]
    events = audit_event_list(entity_ids=seen, filters=filters)
    page = Paginator(events, PAGE_SIZE).get_page(query.get("page"))
    params = query.copy()
    params.pop("page", None)
    return render(
        request,
        "audit/audit_list.html",
        {
            "page": page,
            "filters": filters,
            "actions": AuditAction.choices,
            "entity_names": entities_for_user(request.user).values_list("name", flat=True),
            "query_string": params.urlencode(),
        },
    )
