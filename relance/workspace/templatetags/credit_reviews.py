"""``{% credit_review_link customer %}``: on the customer 360, a link to the customer's open credit
review in the queue (nothing when there is none)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def credit_review_link(customer: Any) -> SafeString | str:
    from relance.credit.selectors.reviews import review_open_of

    review = review_open_of(customer=customer)
    if review is None:
        return ""
    url = f"{reverse('workspace:credit_reviews')}#review-{review.pk}"
    return format_html(
        '<p class="alert" id="credit-review-link">Credit review open since {}: {} proposed. '
        '<a href="{}">Open it in the credit review queue</a></p>',
        review.opened_on.isoformat(),
        review.get_proposal_display().lower(),
        url,
    )
