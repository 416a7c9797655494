"""Policy pages of the workspace: simulate, edit (steps form or YAML), review and save, history, roll back.

* ``/w/policies/<id>/simulate/`` — what tomorrow's run would do with the stored policy (GET), or
  with an edited YAML (POST, editors only; nothing saved);
* ``/w/policies/<id>/edit/`` — the step editor over the YAML, the raw YAML for the rest; *Preview*
  simulates the draft and lists the customers it affects; *Review changes* shows the changes in
  words and as a YAML diff, and only *Save* on that page stores a new version (with a comment);
* ``/w/policies/<id>/history/`` — every version with who, when and why, and what it changed;
* ``/w/policies/<id>/rollback/`` (POST) — review, then store an earlier version again as a new one.

Reading needs ``dunning.view_policy``; anything that may lead to a save needs
``dunning.change_policy`` on the policy. A policy of an entity the user does not see is a 404.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import yaml
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from relance.accounts.decorators import NOT_ALLOWED, role_permission_required
from relance.accounts.selectors import customers_visible, entities_for_user, user_can
from relance.common.converters import row_id_or_none
from relance.core.calendar import parse_iso_date
from relance.core.errors import Conflict, ValidationFailed
from relance.dunning.models import Policy
from relance.engine.dunning.policy import Policy as EnginePolicy
from relance.engine.dunning.policy import policy_from_dict, policy_to_dict
from relance.workspace import policy_editing, policy_impact
from relance.workspace.simulation import Simulation, policy_parse, simulate

PERM_POLICY_VIEW = "dunning.view_policy"
PERM_POLICY_EDIT = "dunning.change_policy"
AFFECTED_PAGE = 25
NOTHING_CHANGED = "The draft is the same as version {version}: there is nothing to save."
STEP_OPERATIONS = ("add", "remove-", "up-", "down-")


def _require(request: HttpRequest, perm: str, obj: Any = None) -> None:
    if not user_can(request.user, perm, obj):
        raise PermissionDenied(NOT_ALLOWED.format(perm=perm))


def _policy(request: HttpRequest, policy_id: int) -> Policy:
    """The policy if its entity is one the user sees; else the same 404 as a missing one."""
    policy = (
        Policy.objects.filter(pk=policy_id, entity__in=entities_for_user(request.user))
        .select_related("entity")
        .first()
    )
    if policy is None:
        raise Http404("policy not found")
    return policy


def _as_of(request: HttpRequest) -> date:
    raw = request.POST.get("as_of") or request.GET.get("as_of")
    if raw:
        try:
            return parse_iso_date(raw)
        except ValidationFailed:
            pass
    return timezone.localdate() + timedelta(days=1)


def _context(request: HttpRequest, policy: Policy, **extra: Any) -> dict[str, Any]:
    return {
        "entity": policy.entity,
        "entities": entities_for_user(request.user),
        "as_of": timezone.localdate(),
        "policy": policy,
        "can_edit": user_can(request.user, PERM_POLICY_EDIT, policy),
        **extra,
    }


def _yaml(spec: Any) -> str:
    from relance.dunning.selectors import policy_version_yaml

    return policy_version_yaml(spec=spec)


def _affected(
    request: HttpRequest, policy: Policy, draft: EnginePolicy, draft_run: Simulation
) -> tuple[Page[Any], list[tuple[str, str, int]], int]:
    """Page ``page`` of the customers (the user may see) whose next contact the draft changes."""
    current = policy_from_dict(policy.spec)
    current_run = simulate(entity=policy.entity, as_of=draft_run.as_of, policy=current, samples=0)
    affected = policy_impact.affected_customers(
        customers=customers_visible(request.user, entity=policy.entity),
        policy=policy,
        current=(current, current_run),
        draft=(draft, draft_run),
    )
    page = Paginator(affected, AFFECTED_PAGE).get_page(row_id_or_none(request.POST.get("page")) or 1)
    return page, policy_impact.affected_counts(affected), len(affected)


# --------------------------------------------------------------------------- simulate (read)


@role_permission_required(PERM_POLICY_VIEW)
def policy_simulate(request: HttpRequest, policy_id: int) -> HttpResponse:
    """What tomorrow's run would do with the policy as stored (GET) or as edited (POST, not saved)."""
    from relance.dunning.selectors import policy_export_yaml

    policy = _policy(request, policy_id)
    if request.method == "POST":
        _require(request, PERM_POLICY_EDIT, policy)
    as_of = _as_of(request)
    stored = policy_export_yaml(policy=policy)
    text = request.POST.get("spec", "") or stored
    engine_policy, _, problems = policy_parse(text=text, key=policy.key)
    result = simulate(entity=policy.entity, as_of=as_of, policy=engine_policy) if engine_policy else None
    return render(
        request,
        "workspace/policy.html",
        _context(
            request,
            policy,
            text=text,
            edited=text != stored,
            problems=problems,
            simulation=result,
            sim_as_of=as_of,
        ),
        status=400 if problems and request.method == "POST" else 200,
    )


# --------------------------------------------------------------------------- edit, review, save


def _draft_from_post(
    request: HttpRequest, policy: Policy
) -> tuple[str, list[policy_editing.StepRow] | None, str]:
    """(YAML text, step rows as typed or None, operation) of an editor POST.

    ``editor=steps``: the hidden ``spec`` is the draft the form was shown from; the typed name,
    description and steps replace its own, the step operation (add, remove, move) is applied, and
    the result is dumped as the new draft. ``editor=yaml`` (or the review page): ``spec`` is the draft.
    """
    operation = request.POST.get("op", "")
    text = request.POST.get("spec", "")
    if request.POST.get("editor") != "steps":
        return text, None, operation
    try:
        base = yaml.safe_load(text)
    except yaml.YAMLError:
        base = None
    if not isinstance(base, dict):
        base = {"key": policy.key}
    rows = policy_editing.step_rows_from_form(request.POST)
    if operation.startswith(STEP_OPERATIONS):
        rows = policy_editing.rows_apply(operation, rows)
    spec = policy_editing.spec_with_rows(
        base,
        name=request.POST.get("name", "").strip(),
        description=request.POST.get("description", "").strip(),
        rows=rows,
    )
    spec["key"] = policy.key
    return _yaml(spec), rows, operation


def _editor(
    request: HttpRequest,
    policy: Policy,
    *,
    text: str,
    rows: list[policy_editing.StepRow] | None,
    preview: bool,
    general: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The editor page for the draft ``text`` (rows as typed, when the form was posted)."""
    engine_policy, data, problems = policy_parse(text=text, key=policy.key)
    if rows is None and isinstance(data, dict) and isinstance(data.get("steps", []), list):
        rows = policy_editing.step_rows_from_spec(data)
    typed_errors = any(row.errors for row in rows or [])
    general = list(general or [])
    if rows is not None:
        general += policy_editing.problems_on_rows(problems, rows)
    name = (data or {}).get("name", policy.name) if isinstance(data, dict) else policy.name
    description = (data or {}).get("description", "") if isinstance(data, dict) else ""
    simulation = affected = None
    counts: list[tuple[str, str, int]] = []
    total = 0
    as_of = _as_of(request)
    if preview and engine_policy is not None and not typed_errors:
        simulation = simulate(entity=policy.entity, as_of=as_of, policy=engine_policy)
        affected, counts, total = _affected(request, policy, engine_policy, simulation)
    invalid = bool(problems or typed_errors or general)
    return render(
        request,
        "workspace/policy_edit.html",
        _context(
            request,
            policy,
            text=text,
            rows=rows,
            name=name if isinstance(name, str) else str(name),
            description=description if isinstance(description, str) else str(description),
            problems=problems,
            yaml_open=rows is None
            or (request.POST.get("editor") == "yaml" and request.POST.get("op") != "edit"),
            general=general,
            simulation=simulation,
            affected=affected,
            affected_counts=counts,
            affected_total=total,
            sim_as_of=as_of,
            choices=policy_editing.FORM_CHOICES,
        ),
        status=400 if invalid and request.method == "POST" else status,
    )


def _review(
    request: HttpRequest,
    policy: Policy,
    *,
    draft: EnginePolicy,
    action: str,
    heading: str,
    text: str = "",
    extra: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The confirmation page: the draft's changes from the current version, in words and as a YAML
    diff, and the customers it affects; its form saves only when posted with ``op=save``."""
    current = policy_from_dict(policy.spec)
    draft_text = _yaml(policy_to_dict(draft))
    simulation = simulate(entity=policy.entity, as_of=_as_of(request), policy=draft, samples=0)
    affected, counts, total = _affected(request, policy, draft, simulation)
    return render(
        request,
        "workspace/policy_review.html",
        _context(
            request,
            policy,
            heading=heading,
            action=action,
            changes=policy_editing.policy_changes(current, draft),
            diff=policy_editing.yaml_diff(
                _yaml(policy.spec), draft_text, old_label=f"version {policy.version}", new_label="draft"
            ),
            text=text or draft_text,
            comment=request.POST.get("comment", ""),
            base_version=row_id_or_none(request.POST.get("base_version")) or policy.version,
            error=error,
            simulation=simulation,
            affected=affected,
            affected_counts=counts,
            affected_total=total,
            sim_as_of=simulation.as_of,
            **(extra or {}),
        ),
        status=status,
    )


@role_permission_required(PERM_POLICY_EDIT)
def policy_edit(request: HttpRequest, policy_id: int) -> HttpResponse:
    """The step editor (and the YAML) of a draft; review, then save as a new version."""
    from relance.dunning.services import policy_import

    policy = _policy(request, policy_id)
    _require(request, PERM_POLICY_EDIT, policy)
    if request.method != "POST":
        return _editor(request, policy, text=_yaml(policy.spec), rows=None, preview=False)
    text, rows, operation = _draft_from_post(request, policy)
    if operation not in ("review", "save"):
        return _editor(request, policy, text=text, rows=rows, preview=operation == "preview")
    draft, data, problems = policy_parse(text=text, key=policy.key)
    if draft is None or data is None or any(row.errors for row in rows or []):
        return _editor(request, policy, text=text, rows=rows, preview=False)
    if draft == policy_from_dict(policy.spec):
        message = NOTHING_CHANGED.format(version=policy.version)
        return _editor(request, policy, text=text, rows=rows, preview=False, general=[message], status=400)
    if operation == "review":
        return _review(request, policy, draft=draft, action="edit", heading="Review the changes", text=text)
    try:
        saved, _ = policy_import(
            entity=policy.entity,
            spec=data,
            author=request.user,
            comment=request.POST.get("comment", ""),
            expected_version=row_id_or_none(request.POST.get("base_version")),
        )
    except (ValidationFailed, Conflict) as exc:
        return _review(
            request,
            policy,
            draft=draft,
            action="edit",
            heading="Review the changes",
            text=text,
            error=exc.message,
            status=409 if isinstance(exc, Conflict) else 400,
        )
    messages.success(request, f"Policy {saved.key} saved as version {saved.version}.")
    return redirect("workspace:policy_history", policy_id=saved.pk)


# --------------------------------------------------------------------------- history, roll back


@role_permission_required(PERM_POLICY_VIEW)
@require_GET
def policy_history(request: HttpRequest, policy_id: int) -> HttpResponse:
    """Every version, newest first: who saved it, when, why, and what it changed from the one before."""
    from relance.dunning.selectors import policy_version_list

    policy = _policy(request, policy_id)
    versions = list(policy_version_list(policy=policy))
    rows = []
    for position, version in enumerate(versions):
        previous = versions[position + 1] if position + 1 < len(versions) else None
        changes: list[str] = []
        diff: list[policy_editing.DiffLine] = []
        if previous is not None:
            try:
                changes = policy_editing.policy_changes(
                    policy_from_dict(previous.spec), policy_from_dict(version.spec)
                )
            except ValidationFailed:  # a version stored before a rule was tightened
                changes = ["(this version no longer loads: see the YAML diff)"]
            diff = policy_editing.yaml_diff(
                _yaml(previous.spec),
                _yaml(version.spec),
                old_label=f"version {previous.version}",
                new_label=f"version {version.version}",
            )
        rows.append(
            {
                "version": version,
                "changes": changes,
                "diff": diff,
                "current": version.version == policy.version,
            }
        )
    return render(request, "workspace/policy_history.html", _context(request, policy, rows=rows))


@role_permission_required(PERM_POLICY_EDIT)
@require_POST
def policy_rollback(request: HttpRequest, policy_id: int) -> HttpResponse:
    """Review, then (``op=save``) store version ``version`` again as a new version; audited."""
    from relance.dunning.models import PolicyVersion
    from relance.dunning.services import policy_rollback as rollback

    policy = _policy(request, policy_id)
    _require(request, PERM_POLICY_EDIT, policy)
    number = row_id_or_none(request.POST.get("version"))
    earlier = PolicyVersion.objects.filter(policy=policy, version=number).first() if number else None
    if number is None or earlier is None:
        raise Http404("no such version of this policy")
    try:
        draft = policy_from_dict(earlier.spec)
    except ValidationFailed as exc:
        messages.error(request, f"Version {number} cannot be restored: {exc.message}")
        return redirect("workspace:policy_history", policy_id=policy.pk)
    heading = f"Roll back to version {number}"
    extra = {"rollback_version": number}
    if number == policy.version or draft == policy_from_dict(policy.spec):
        messages.error(request, NOTHING_CHANGED.format(version=policy.version))
        return redirect("workspace:policy_history", policy_id=policy.pk)
    if request.POST.get("op") != "save":
        return _review(request, policy, draft=draft, action="rollback", heading=heading, extra=extra)
    try:
        saved = rollback(
            policy=policy,
            version=number,
            author=request.user,
            comment=request.POST.get("comment", ""),
            expected_version=row_id_or_none(request.POST.get("base_version")),
        )
    except (ValidationFailed, Conflict) as exc:
        return _review(
            request,
            policy,
            draft=draft,
            action="rollback",
            heading=heading,
            extra=extra,
            error=exc.message,
            status=409 if isinstance(exc, Conflict) else 400,
        )
    messages.success(
        request, f"Policy {saved.key} rolled back to version {number}: now version {saved.version}."
    )
    return redirect("workspace:policy_history", policy_id=saved.pk)
