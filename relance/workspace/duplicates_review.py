"""The duplicate customers' review page: thin views over ``relance.quality``.

* ``/w/quality/duplicates/`` — the entity's candidate pairs, highest score first, then the most
  open amount at stake, the two customers side by side with the reasons; the latest merges,
  with an undo while it is allowed.
* ``.../<pair>/merge/`` (POST, ``survivor`` = one of the pair's customer ids), ``.../<pair>/not/``
  (POST: not a duplicate, remembered), ``.../find/`` (POST: search again),
  ``/w/quality/merges/<id>/undo/`` (POST).

Credit managers and admins only (``quality.add_customermerge``, else 403); a pair or merge of an
entity the user may not see is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from relance.accounts.decorators import role_permission_required
from relance.accounts.selectors import entity_list_for_user
from relance.core.errors import NotFound, ValidationFailed
from relance.ledger.models import Entity
from relance.quality import duplicates_selectors as selectors
from relance.quality.duplicates_selectors import PERM_MERGE
from relance.quality.models import CustomerMerge


def _entity_of(request: HttpRequest, entity_id: int) -> Entity:
    entity = next((e for e in entity_list_for_user(request.user) if e.pk == entity_id), None)
    if entity is None:
        raise Http404(selectors.PAIR_NOT_FOUND)
    return entity


def _pair(request: HttpRequest, pair_id: int):  # type: ignore[no-untyped-def]
    from relance.quality.models import DuplicateCandidate

    entity_id = DuplicateCandidate.objects.filter(pk=pair_id).values_list("entity_id", flat=True).first()
    if entity_id is None:
        raise Http404(selectors.PAIR_NOT_FOUND)
    entity = _entity_of(request, entity_id)
    try:
        return selectors.candidate_get(entity=entity, pair_id=pair_id)
    except NotFound:
        raise Http404(selectors.PAIR_NOT_FOUND) from None


def _label(request: HttpRequest) -> str:
    return str(request.user.get_username())  # type: ignore[union-attr]


@require_GET
@role_permission_required(PERM_MERGE)
def duplicate_queue(request: HttpRequest) -> HttpResponse:
    from relance.quality.merge import merge_undo_blocker
    from relance.workspace.views import _entity

    entity, entities = _entity(request)
    merges = selectors.merge_list(entity=entity)
    return render(
        request,
        "workspace/duplicates.html",
        {
            "entity": entity,
            "entities": entities,
            "items": selectors.candidate_queue(entity=entity, as_of=timezone.localdate()),
            "merges": [(merge, merge_undo_blocker(merge)) for merge in merges],
        },
    )


@require_POST
@role_permission_required(PERM_MERGE)
def duplicate_find(request: HttpRequest) -> HttpResponse:
    from relance.quality.duplicates_services import duplicates_find
    from relance.workspace.views import _entity

    entity, _entities = _entity(request)
    outcome = duplicates_find(entity=entity)
    messages.success(
        request, f"{len(outcome.pairs)} candidate pair(s) found among {outcome.stats.customers} customers."
    )
    return redirect("workspace:duplicates")


@require_POST
@role_permission_required(PERM_MERGE)
def duplicate_merge(request: HttpRequest, pair_id: int) -> HttpResponse:
    from relance.quality.merge import customer_merge

    pair = _pair(request, pair_id)
    low, high = pair.customer_low, pair.customer_high
    chosen = request.POST.get("survivor", "")
    if chosen not in (str(low.pk), str(high.pk)):
        messages.error(request, "Nothing merged: choose which of the two customers survives.")
        return redirect(f"{reverse('workspace:duplicates')}#pair-{pair.pk}")
    survivor, merged = (low, high) if chosen == str(low.pk) else (high, low)
    try:
        outcome = customer_merge(
            survivor=survivor,
            merged=merged,
            user=request.user,
            actor_label=_label(request),
            score=pair.score,
            reasons=list(pair.reasons),
        )
    except ValidationFailed as exc:
        messages.error(request, f"Nothing merged: {exc.message}.")
        return redirect(f"{reverse('workspace:duplicates')}#pair-{pair.pk}")
    moved = sum(outcome.moved.values())
    messages.success(
        request,
        f"{merged.name} ({merged.external_ref}) merged into {survivor.name} ({survivor.external_ref}): "
        f"{moved} row(s) moved; {merged.external_ref} is now an alias. It can be undone until the next run.",
    )
    return redirect("workspace:duplicates")


@require_POST
@role_permission_required(PERM_MERGE)
def duplicate_not(request: HttpRequest, pair_id: int) -> HttpResponse:
    from relance.quality.duplicates_services import not_duplicate_mark

    pair = _pair(request, pair_id)
    not_duplicate_mark(
        entity=pair.entity,
        first=pair.customer_low,
        second=pair.customer_high,
        user=request.user,
        actor_label=_label(request),
    )
    messages.success(
        request,
        f"{pair.customer_low.external_ref} and {pair.customer_high.external_ref}: not a duplicate "
        "(remembered; the pair will not come back).",
    )
    return redirect("workspace:duplicates")


@require_POST
@role_permission_required(PERM_MERGE)
def merge_undo(request: HttpRequest, merge_id: int) -> HttpResponse:
    from relance.quality.merge import customer_merge_undo

    merge = CustomerMerge.objects.filter(pk=merge_id).first()
    if merge is None:
        raise Http404("no such merge")
    _entity_of(request, merge.entity_id)
    try:
        customer_merge_undo(merge=merge, actor_label=_label(request))
    except ValidationFailed as exc:
        messages.error(request, f"Not undone: {exc.message}.")
        return redirect("workspace:duplicates")
    messages.success(request, f"Merge of {merge.merged_ref} into {merge.survivor_ref} undone.")
    return redirect("workspace:duplicates")


urlpatterns = [
    path("quality/duplicates/", duplicate_queue, name="duplicates"),
    path("quality/duplicates/find/", duplicate_find, name="duplicates_find"),
    path("quality/duplicates/<id:pair_id>/merge/", duplicate_merge, name="duplicate_merge"),
    path("quality/duplicates/<id:pair_id>/not/", duplicate_not, name="duplicate_not"),
    path("quality/merges/<id:merge_id>/undo/", merge_undo, name="merge_undo"),
]
