"""The data-quality fix list (issue 19): thin views over ``relance.quality.report``.

* ``/w/quality/`` — the entity's score and, below, the customers with a data problem, the most
  open amount at stake first (a customer no reminder can reach costs the most), each problem
  in words with a link to the customer 360. Scoped by ``customer_scope``: a sales owner sees
  only their accounts.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from relance.accounts.decorators import role_permission_required
from relance.accounts.selectors import customer_scope
from relance.ledger.models import Customer
from relance.quality.models import QualityCheck
from relance.quality.report import fix_list
from relance.quality.score import MONITORED, PROBLEM_LABELS

PERM_VIEW = "ledger.view_contact"
LIMIT = 200


@login_required
@require_GET
@role_permission_required(PERM_VIEW)
def quality_fix_list(request: HttpRequest) -> HttpResponse:
    from relance.workspace.views import _entity

    entity, entities = _entity(request)
    today = timezone.localdate()
    problem = request.GET.get("problem", "")
    if problem not in MONITORED:
        problem = ""
    rows = fix_list(entity=entity, today=today, limit=None, problem=problem)
    visible = set(
        customer_scope(request.user, Customer.objects.filter(entity=entity)).values_list("id", flat=True)
    )
    rows = [row for row in rows if row.customer_id in visible]
    return render(
        request,
        "workspace/quality.html",
        {
            "entity": entity,
            "entities": entities,
            "as_of": today,
            "rows": rows[:LIMIT],
            "total": len(rows),
            "limit": LIMIT,
            "problem": problem,
            "problems": sorted((code, PROBLEM_LABELS[code]) for code in MONITORED),
            "last_check": QualityCheck.objects.filter(entity=entity).first(),
        },
    )
