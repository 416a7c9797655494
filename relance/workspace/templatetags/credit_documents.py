"""``{% credit_documents customer %}``: the documents of the customer's approved credit
applications on the customer 360 page ("all the account documentation in one place"), with a
download for those who may read them (``relance.credit.selectors.applications``)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("workspace/_credit_documents.html", takes_context=True)
def credit_documents(context: template.Context, customer: Any) -> dict[str, Any]:
    from relance.credit.selectors.applications import customer_documents, user_sees_sensitive

    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user_sees_sensitive(user):
        return {"documents": []}
    return {"documents": customer_documents(customer=customer)}
