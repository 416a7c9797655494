"""An entity's colours as a stylesheet (``/brand.css?brand=%231F4E79&accent=%23E07A1F``).

Pages carry no ``<style>`` element (the Content-Security-Policy allows stylesheets from this site
only; docs/security.md), so the colours travel in the stylesheet's address: the response depends
on nothing else, names no entity, and is cached for a year.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import reverse
from django.views.decorators.http import require_GET

HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def brand_stylesheet_url(primary: str, accent: str) -> str:
    return f"{reverse('web:brand_css')}?{urlencode({'brand': primary, 'accent': accent})}"


@require_GET
def brand_css(request: HttpRequest) -> HttpResponse:
    brand, accent = request.GET.get("brand", ""), request.GET.get("accent", "")
    if not (HEX_COLOUR.fullmatch(brand) and HEX_COLOUR.fullmatch(accent)):
        return HttpResponseBadRequest(
            "expected brand and accent colours such as #1F4E79", content_type="text/plain"
        )
    response = HttpResponse(f":root {{ --brand: {brand}; --accent: {accent}; }}\n", content_type="text/css")
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
