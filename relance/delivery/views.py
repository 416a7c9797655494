"""Provider callbacks: Twilio's SMS status reports (anymail's webhooks are mounted from anymail.urls)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from relance.delivery.channels.twilio import twilio_setting
from relance.delivery.tracking import twilio_signature, twilio_status_record

ERROR_BAD_SIGNATURE = "invalid X-Twilio-Signature"


def _candidate_urls(request: HttpRequest) -> list[str]:
    """The URL Twilio signed: the public address (behind a proxy) or the one this request came to."""
    path = request.get_full_path()
    return [f"{settings.RELANCE_PUBLIC_URL}{path}", request.build_absolute_uri(path)]


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's StatusCallback: verify the signature, then record delivered/failed/undelivered."""
    token = twilio_setting("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    params = [(key, value) for key, values in request.POST.lists() for value in values]
    if (
        not token
        or not signature
        or not any(
            hmac.compare_digest(twilio_signature(url, params, token), signature)
            for url in _candidate_urls(request)
        )
    ):
        return HttpResponseForbidden(ERROR_BAD_SIGNATURE)
    twilio_status_record(params={key: value for key, value in params})
    return HttpResponse(status=204)
