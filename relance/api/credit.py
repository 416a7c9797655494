"""Credit endpoints: the ERP's order release check and a customer's credit view.

``GET /credit/check`` is on the ERP's order path (p95 ≤ 20 ms at 50 clients, docs/benchmarks.md
"Credit check (issue 15)"): it reads through ``relance.credit.selectors.check`` (a handful of
indexed queries, no Ibis) and writes its JSON itself. (No ``from __future__ import annotations``:
Ninja reads the hints.)
"""

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import Router

from relance.accounts.selectors import user_can
from relance.api import selectors
from relance.api.params import ERRORS, EntityName
from relance.core.clock import SystemClock, zone
from relance.core.errors import NotFound, ValidationFailed
from relance.core.formatting import exact_amount
from relance.core.identifiers import has_unsafe_text
from relance.core.money import is_currency
from relance.credit.selectors.check import credit_check, customer_for_check
from relance.credit.selectors.exposure import Exposure, customers_for_exposure
from relance.ledger.models import Entity

router = Router(tags=["credit"])

AMOUNT_INVALID = "amount: expected a decimal amount of 0 or more, found {value!r}"
CURRENCY_INVALID = "currency: expected an ISO 4217 currency code such as EUR, found {value!r}"


def _today(entity: Entity) -> date:
    return SystemClock().today(zone(entity.timezone or None))


def _customer(request: HttpRequest, entity: str | None, ref: str, *, for_check: bool = False) -> Any:
    scope = selectors.entity_for_user(user=request.auth, name=entity)  # type: ignore[attr-defined]
    if for_check:  # the ERP's order path: the lookup's SQL is compiled once
        found = (
            None
            if has_unsafe_text(ref)
            else customer_for_check(entity_id=scope.pk, external_ref=ref, on=_today(scope))
        )
        if found is None:
            raise NotFound(selectors.NOT_FOUND.format(kind="customer", ref=ref, entity=scope.name))
        return found
    return selectors.by_ref(
        customers_for_exposure(entity_id=scope.pk), entity=scope, kind="customer", ref=ref
    )


def _amount(value: str) -> Decimal:
    try:
        amount = Decimal(value.strip().replace(",", ""))
    except (InvalidOperation, AttributeError):
        raise ValidationFailed(AMOUNT_INVALID.format(value=value), code="invalid") from None
    if not amount.is_finite() or amount < 0:
        raise ValidationFailed(AMOUNT_INVALID.format(value=value), code="invalid")
    return amount


def _money(amount: Decimal | None, currency: str) -> str | None:
    return exact_amount(amount, currency) if amount is not None else None


def exposure_json(exposure: Exposure) -> dict[str, Any]:
    """The exposure's figures as the API and the CLI give them: money as decimal strings."""
    currency = exposure.currency
    utilisation = exposure.utilisation
    return {
        "currency": currency,
        "limit": _money(exposure.limit, currency),
        "limit_holder_ref": exposure.limit_holder_ref,
        "limit_shared": exposure.shared,
        "limit_expires_on": exposure.limit_expires_on,
        "open_receivables": _money(exposure.open_receivables, currency),
        "open_orders": _money(exposure.open_orders, currency),
        "exposure": _money(exposure.exposure, currency),
        "available": _money(exposure.available, currency),
        "utilisation": None if utilisation is None else str(utilisation),
        "parts": [
            {
                "currency": part.currency,
                "open_receivables": _money(part.open_receivables, part.currency),
                "open_orders": _money(part.open_orders, part.currency),
                "rate": None if part.rate is None else str(part.rate),
                "converted": _money(part.converted, currency),
            }
            for part in exposure.parts
        ],
        "missing_rate": list(exposure.missing_rates) or None,
    }


@router.get("/credit/check", response={200: dict[str, Any], **ERRORS})
def credit_check_view(
    request: HttpRequest,
    customer_ref: str,
    amount: str,
    currency: str | None = None,
    entity: str | None = EntityName,
) -> Any:
    """May the ERP release an order of ``amount`` for this customer now? ``approve``, or ``hold``
    with every reason (over limit, overdue, credit hold, expired or no limit, missing rate,
    prepayment required)."""
    order_amount = _amount(amount)
    if currency is not None and not is_currency(currency.upper()):
        raise ValidationFailed(CURRENCY_INVALID.format(value=currency), code="invalid")
    customer = _customer(request, entity, customer_ref, for_check=True)
    check = credit_check(
        customer=customer, amount=order_amount, on=_today(customer.entity), currency=currency
    )
    exposure = check.exposure
    utilisation = exposure.utilisation
    return JsonResponse(
        {
            "customer_ref": check.customer_ref,
            "as_of": check.as_of.isoformat(),
            "decision": check.decision,
            "reasons": [{"code": reason.code, "text": reason.text} for reason in check.reasons],
            "amount": exact_amount(check.amount, check.amount_currency),
            "amount_currency": check.amount_currency,
            "currency": exposure.currency,
            "exposure": exact_amount(exposure.exposure, exposure.currency),
            "limit": _money(exposure.limit, exposure.currency),
            "available": _money(exposure.available, exposure.currency),
            "utilisation": None if utilisation is None else str(utilisation),
            "risk_class": check.risk_class,
        }
    )


@router.get("/customers/{path:ref}/credit", response={200: dict[str, Any], **ERRORS}, tags=["customers"])
def customer_credit_view(request: HttpRequest, ref: str, entity: str | None = EntityName) -> Any:
    """The customer's credit: limit, exposure and its parts, utilisation, the latest score with its
    reasons, the open review, credit holds and insurance. The bureau's report (with its raw
    payload) only for those who may read bureau reports (credit managers, admins)."""
    from relance.credit.selectors.panel import credit_panel

    customer = _customer(request, entity, ref)
    user = request.auth  # type: ignore[attr-defined]
    panel = credit_panel(
        customer=customer,
        on=_today(customer.entity),
        with_bureau=user_can(user, "credit.view_bureaureport"),
    )
    return JsonResponse(panel_json(panel), json_dumps_params={"default": str})


def panel_json(panel: Any) -> dict[str, Any]:
    score = panel.score
    review = panel.review
    profile = panel.profile
    currency = panel.exposure.currency
    bureau = panel.bureau
    return {
        "customer_ref": panel.customer_ref,
        "as_of": panel.as_of.isoformat(),
        **exposure_json(panel.exposure),
        "score": None
        if score is None
        else {
            "as_of": score.as_of.isoformat(),
            "score": score.score,
            "risk_class": score.risk_class,
            "scorecard": f"{score.scorecard_key} v{score.scorecard_version}",
            "reasons": [
                {"factor": reason["factor"], "points": reason["points"], "text": reason["text"]}
                for reason in score.reasons
            ],
        },
        "review": None
        if review is None
        else {
            "id": review.pk,
            "opened_on": review.opened_on.isoformat(),
            "proposal": review.proposal,
            "proposed_limit": _money(review.proposed_limit, review.currency),
            "reasons": review.reasons,
            "triggers": [{"code": t.get("code"), "text": t.get("text")} for t in review.triggers],
        },
        "holds": [
            {
                "customer_ref": hold.customer.external_ref,
                "placed_on": hold.placed_on.isoformat(),
                "reason": hold.reason,
            }
            for hold in panel.holds
        ],
        "insurance": None
        if profile is None or not profile.insurer
        else {
            "insurer": profile.insurer,
            "policy": profile.insurance_policy,
            "insured_limit": _money(profile.insured_limit, profile.insured_currency or currency),
            "insured_currency": profile.insured_currency or currency,
            "cover_expires_on": profile.cover_expires_on,
            "declaration_days": profile.declaration_days,
        },
        "bureau": None
        if bureau is None
        else {
            "provider": bureau.provider,
            "reported_on": bureau.reported_on.isoformat(),
            "bureau_score": bureau.bureau_score,
            "provider_score": bureau.provider_score,
            "rating": bureau.rating,
            "recommended_limit": _money(bureau.recommended_limit, bureau.recommended_currency or currency),
            "derogatory_events": bureau.derogatory_events,
            "raw_payload": bureau.raw_payload,
        },
    }
