"""``{% hold_panel customer %}``: the "I'm on it" hold form and the link to the why page, for the
customer 360 page (which includes ``workspace/_hold_panel.html``), computed for the signed-in user."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

register = template.Library()


@register.inclusion_tag("workspace/_hold_form.html", takes_context=True)
def hold_panel(context: template.Context, customer: Any) -> dict[str, Any]:
    from relance.workspace.hold_selectors import hold_form

    request = context.get("request")
    user = getattr(request, "user", None)
    form = hold_form(user=user, customer=customer, today=timezone.localdate())
    return {
        "customer": customer,
        "can_hold": form.can_hold,
        "days_default": form.days_default,
        "days_max": form.days_max,
        "reason_max": form.reason_max,
        "ends_default": form.ends_default,
        "holds": form.holds,
        "liftable": form.liftable,
        "is_owner": form.is_owner,
        "csrf_token": context.get("csrf_token"),
        "back": request.get_full_path() if request is not None else "",
        "panel": True,
        "hold_form": _bound_for(context.get("hold_form"), customer),
    }


def _bound_for(form: Any, customer: Any) -> Any:
    """The refused hold form of this customer's request (the values typed, the errors), if any."""
    return form if form is not None and getattr(form, "is_bound", False) else None
