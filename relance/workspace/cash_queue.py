"""The exception queue of cash application (issue 17, item 4): thin views over
``relance.cashapp.queue`` (reads) and ``relance.cashapp.decisions`` (writes).

* ``/w/cash/`` — the entity's unmatched and suggested credit lines (applied ones with
  ``?status=applied``, to unapply), oldest booking first, 25 a page, counted per status, filtered
  by amount, age, currency and account; each line with its payer, remittance and top candidates,
  their confidence and reasons. ``cashapp.view_bankline``: every role of the entity except sales
  owners (the lines are the entity's cash, not one account's: 403, as in the API).
* ``/w/cash/lines/<id>/accept|split|assign|unapply/`` (POST) — ``cashapp.change_bankline`` on
  the line (collectors, credit managers, admins); a line of an entity the user does not see is a
  404. A refused form shows the queue again with status 400, what was typed and the error by
  its field; a decision goes back to the queue with what was done in a sentence.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from relance.accounts import roles
from relance.accounts.decorators import NOT_ALLOWED, role_permission_required
from relance.accounts.selectors import customers_visible, entity_list_for_user, user_can, user_role
from relance.cashapp import decisions, queue
from relance.cashapp.models import BankLine, LineStatus
from relance.core.actors import Actor
from relance.core.errors import ErrorList, RelanceError
from relance.core.formatting import format_money
from relance.core.text import sentence
from relance.workspace.forms import AmountField

PERM_VIEW = "cashapp.view_bankline"
PERM_DECIDE = "cashapp.change_bankline"
PAGE_SIZE = 25
SPLIT_ROWS = 6
SPLIT_ROWS_MORE = 3  # rows the *Add rows* button adds without a script
SPLIT_ROWS_MAX = 200
_ROW_FIELD = re.compile(r"^(?:invoice|amount)_(\d+)$")


def _rows_in(data: Any) -> int:
    """How many split rows a request carries: one more than the highest row index named in it."""
    found = [int(match.group(1)) for key in data for match in [_ROW_FIELD.match(key)] if match]
    return max(found) + 1 if found else 0


REASON_MAX = 500
LINE_NOT_FOUND = "No such bank line."
SALES_REFUSED = (
    "The exception queue is the entity's cash, not one account's: sales owners see their "
    "accounts' payments on the customer page."
)


# --------------------------------------------------------------------------- forms


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[(queue.OPEN, "open")] + [(s, s) for s in queue.QUEUE_STATUSES]
    )
    currency = forms.CharField(required=False, max_length=3)
    account = forms.IntegerField(required=False, min_value=1)
    min_amount = forms.DecimalField(required=False, min_value=Decimal(0), max_digits=18, decimal_places=4)
    max_amount = forms.DecimalField(required=False, min_value=Decimal(0), max_digits=18, decimal_places=4)
    min_age = forms.IntegerField(required=False, min_value=0, max_value=36500)
    max_age = forms.IntegerField(required=False, min_value=0, max_value=36500)

    def filters(self) -> queue.QueueFilters:
        """The filters typed; a value that is not one is left out (the queue is still shown)."""
        self.is_valid()  # the fields in error are left out of cleaned_data
        data = self.cleaned_data
        return queue.QueueFilters(
            status=data.get("status") or queue.OPEN,
            currency=(data.get("currency") or "").upper(),
            account_id=data.get("account"),
            min_amount=data.get("min_amount"),
            max_amount=data.get("max_amount"),
            min_age=data.get("min_age"),
            max_age=data.get("max_age"),
        )


class AcceptForm(forms.Form):
    suggestion = forms.IntegerField(min_value=0, max_value=50, required=False)


class AssignForm(forms.Form):
    customer = forms.CharField(
        max_length=200, error_messages={"required": "Enter a customer's name or reference."}
    )


class UnapplyForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX,
        error_messages={"required": "Say why the line is unapplied (kept in the audit trail)."},
    )


class SplitForm(forms.Form):
    """Invoice ref and amount rows; the rest of the line's amount stays unapplied cash.

    ``SPLIT_ROWS`` rows at first (or ``rows``); as many as the request carries (``invoice_N``/
    ``amount_N``, up to ``SPLIT_ROWS_MAX``). The *Add rows* button posts the form back without a
    script (``line_split`` shows it again with ``SPLIT_ROWS_MORE`` more rows, nothing applied); with
    one, cash_queue.js adds a row in place."""

    note = forms.CharField(required=False, max_length=REASON_MAX)

    def __init__(self, *args: Any, line: BankLine, rows: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        self.row_count = min(SPLIT_ROWS_MAX, max(SPLIT_ROWS, rows, _rows_in(self.data)))
        for row in range(self.row_count):
            self.fields[f"invoice_{row}"] = forms.CharField(required=False, max_length=100)
            self.fields[f"amount_{row}"] = AmountField(required=False)

    def rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"invoice_{row}"], self[f"amount_{row}"]) for row in range(self.row_count)]

    @property
    def can_add(self) -> bool:
        return self.row_count < SPLIT_ROWS_MAX

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        allocations: list[tuple[str, Decimal]] = []
        for row in range(self.row_count):
            ref = (data.get(f"invoice_{row}") or "").strip()
            amount = data.get(f"amount_{row}")
            if f"amount_{row}" in self.errors:
                continue
            if ref and amount is None:
                self.add_error(f"amount_{row}", f"Enter the amount paid on {ref}.")
            elif amount is not None and not ref:
                self.add_error(f"invoice_{row}", "Enter the invoice this amount pays.")
            elif ref and amount is not None:
                allocations.append((ref, amount))
        if not allocations and not self.errors:
            self.add_error("invoice_0", "Enter at least one invoice and the amount it gets.")
        total = sum((amount for _, amount in allocations), Decimal(0))
        if total > self.line.amount:
            self.add_error(
                None,
                f"The amounts add up to {_money(total, self.line)}, more than the line's "
                f"{_money(self.line.amount, self.line)}.",
            )
        data["allocations"] = allocations
        data["remainder"] = self.line.amount - total
        return data


def _money(amount: Decimal, line: BankLine) -> str:
    from django.utils.translation import get_language

    return format_money(amount, line.currency, get_language())


# --------------------------------------------------------------------------- reading


def _refuse_sales(request: HttpRequest) -> None:
    if not request.user.is_superuser and user_role(request.user) in roles.OWN_CUSTOMERS_ROLES:
        raise PermissionDenied(SALES_REFUSED)


def _queue_page(
    request: HttpRequest,
    *,
    params: QueryDict | None = None,
    bound: dict[int, dict[str, forms.Form]] | None = None,
    status: int = 200,
) -> HttpResponse:
    from relance.workspace.views import _entity

    entity, entities = _entity(request)
    today = timezone.localdate()
    params = request.GET if params is None else params
    filter_form = QueueFilterForm(params)
    filters = filter_form.filters()
    lines = queue.queue_lines(entity=entity, filters=filters, today=today)
    page = Paginator(lines, PAGE_SIZE).get_page(params.get("page"))
    items = queue.queue_page_lines(page.object_list, entity=entity, today=today)
    bound = bound or {}
    can_decide = user_can(request.user, PERM_DECIDE, entity)
    cards = [
        {
            "item": item,
            "split": bound.get(item.line.pk, {}).get("split") or _split_initial(item),
            "assign": bound.get(item.line.pk, {}).get("assign") or AssignForm(),
            "unapply": bound.get(item.line.pk, {}).get("unapply") or UnapplyForm(),
            "open": next(iter(bound.get(item.line.pk, {})), ""),
        }
        for item in items
    ]
    query = params.copy()
    return render(
        request,
        "workspace/cash_queue.html",
        {
            "entity": entity,
            "entities": entities,
            "filters": filters,
            "filter_form": filter_form,
            "choices": queue.queue_choices(entity=entity),
            "counts": queue.queue_counts(entity=entity, filters=filters, today=today),
            "statuses": [queue.OPEN, *queue.QUEUE_STATUSES],
            "page": page,
            "cards": cards,
            "can_decide": can_decide,
            "filtered": any(
                params.get(name)
                for name in ("currency", "account", "min_amount", "max_amount", "min_age", "max_age")
            ),
            "back": query.urlencode(),
            "split_rows_max": SPLIT_ROWS_MAX,
        },
        status=status,
    )


def _split_initial(item: queue.QueueLine) -> SplitForm:
    """The split form, its rows filled with the top candidate's allocations when there is one."""
    initial: dict[str, Any] = {}
    rows = 0
    if item.line.status != LineStatus.APPLIED and item.candidates:
        for row, (ref, amount) in enumerate(item.candidates[0].allocations[:SPLIT_ROWS_MAX]):
            initial[f"invoice_{row}"] = ref
            initial[f"amount_{row}"] = amount.normalize() if amount == amount.to_integral() else amount
            rows = row + 2  # and an empty row after them
    return SplitForm(line=item.line, initial=initial, rows=rows)


@require_GET
@role_permission_required(PERM_VIEW)
def cash_queue(request: HttpRequest) -> HttpResponse:
    _refuse_sales(request)
    return _queue_page(request)


# --------------------------------------------------------------------------- deciding


def _line(request: HttpRequest, line_id: int) -> BankLine:
    """The line if it is a credit of an entity the user sees and the user may work it; 404 for
    any other line (another entity's is answered as one that does not exist), 403 without the
    permission."""
    _refuse_sales(request)
    visible = [entity.pk for entity in entity_list_for_user(request.user)]
    line = queue.queue_line_get(entity_ids=visible, line_id=line_id)
    if line is None:
        raise Http404(LINE_NOT_FOUND)
    if not user_can(request.user, PERM_DECIDE, line):
        raise PermissionDenied(NOT_ALLOWED.format(perm=PERM_DECIDE))
    return line


def _back(request: HttpRequest, line: BankLine | None = None) -> HttpResponse:
    query = request.POST.get("back", "")
    url = reverse("workspace:cash_queue") + (f"?{query}" if query else "")
    return redirect(url + (f"#line-{line.pk}" if line is not None else ""))


def _refused(request: HttpRequest, line: BankLine, name: str, form: forms.Form) -> HttpResponse:
    """The queue again, 400, with the refused form open on its line and what was typed."""
    params = QueryDict(request.POST.get("back", "")[:2000])
    return _queue_page(request, params=params, bound={line.pk: {name: form}}, status=400)


def _service_refused(form: forms.Form, problem: Exception) -> None:
    if isinstance(problem, ErrorList):
        text = "; ".join(str(error) for error in problem.errors) or problem.message
    else:
        text = getattr(problem, "message", str(problem))
    form.add_error(None, sentence(f"Nothing was done: {text}"))


def _who(line: BankLine) -> str:
    return line.counterparty_name or line.bank_ref


@require_POST
@role_permission_required(PERM_VIEW)
def line_accept(request: HttpRequest, line_id: int) -> HttpResponse:
    line = _line(request, line_id)
    form = AcceptForm(request.POST)
    index = (form.cleaned_data.get("suggestion") or 0) if form.is_valid() else 0
    try:
        decisions.line_accept(
            entity=line.entity, line=line, suggestion_index=index, actor=Actor.user(request.user)
        )
    except (RelanceError, ErrorList) as problem:
        messages.error(request, sentence(f"{_who(line)}: nothing was applied: {_message(problem)}"))
        return _back(request, line)
    messages.success(request, f"{_who(line)}: {_money(line.amount, line)} applied.")
    return _back(request)


def _message(problem: Exception) -> str:
    if isinstance(problem, ErrorList):
        return "; ".join(str(error) for error in problem.errors) or problem.message
    return str(getattr(problem, "message", problem))


@require_POST
@role_permission_required(PERM_VIEW)
def line_split(request: HttpRequest, line_id: int) -> HttpResponse:
    line = _line(request, line_id)
    if request.POST.get("more"):  # *Add rows* without a script: the form again, longer, nothing applied
        typed = {key: value for key, value in request.POST.items() if _ROW_FIELD.match(key) or key == "note"}
        longer = SplitForm(line=line, initial=typed, rows=_rows_in(request.POST) + SPLIT_ROWS_MORE)
        params = QueryDict(request.POST.get("back", "")[:2000])
        return _queue_page(request, params=params, bound={line.pk: {"split": longer}})
    form = SplitForm(request.POST, line=line)
    if not form.is_valid():
        return _refused(request, line, "split", form)
    data = form.cleaned_data
    try:
        decisions.line_split(
            entity=line.entity,
            line=line,
            allocations=data["allocations"],
            actor=Actor.user(request.user),
            note=data["note"],
        )
    except (RelanceError, ErrorList) as problem:
        _service_refused(form, problem)
        return _refused(request, line, "split", form)
    rest = data["remainder"]
    kept = f"; {_money(rest, line)} kept as unapplied cash" if rest > 0 else ""
    invoices = ", ".join(ref for ref, _ in data["allocations"])
    messages.success(request, f"{_who(line)}: {_money(line.amount, line)} split across {invoices}{kept}.")
    return _back(request)


@require_POST
@role_permission_required(PERM_VIEW)
def line_assign(request: HttpRequest, line_id: int) -> HttpResponse:
    line = _line(request, line_id)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _refused(request, line, "assign", form)
    typed = form.cleaned_data["customer"]
    found = queue.customer_matches(customers_visible(request.user, entity=line.entity), typed)
    if not found:
        form.add_error("customer", f"No customer's name or reference has “{typed}”.")
        return _refused(request, line, "assign", form)
    if len(found) > 1:
        names = "; ".join(f"{c.name} ({c.external_ref})" for c in found)
        form.add_error("customer", f"Several customers match “{typed}”: {names}. Type the reference.")
        return _refused(request, line, "assign", form)
    customer = found[0]
    try:
        decided = decisions.line_assign(
            entity=line.entity, line=line, customer=customer, actor=Actor.user(request.user)
        )
    except (RelanceError, ErrorList) as problem:
        _service_refused(form, problem)
        return _refused(request, line, "assign", form)
    named = f"{customer.name} ({customer.external_ref})"
    if decided.status == LineStatus.APPLIED:
        messages.success(request, f"{_who(line)}: assigned to {named} and applied.")
        return _back(request)
    messages.success(request, f"{_who(line)}: assigned to {named}; choose the invoice among its candidates.")
    return _back(request, line)


@require_POST
@role_permission_required(PERM_VIEW)
def line_unapply(request: HttpRequest, line_id: int) -> HttpResponse:
    line = _line(request, line_id)
    form = UnapplyForm(request.POST)
    if not form.is_valid():
        return _refused(request, line, "unapply", form)
    try:
        decisions.line_unapply(
            entity=line.entity, line=line, reason=form.cleaned_data["reason"], actor=Actor.user(request.user)
        )
    except (RelanceError, ErrorList) as problem:
        _service_refused(form, problem)
        return _refused(request, line, "unapply", form)
    messages.success(
        request, f"{_who(line)}: {_money(line.amount, line)} unapplied; the line is back in the queue."
    )
    return _back(request)
