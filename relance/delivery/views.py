"""Provider callbacks: Twilio's SMS status reports and inbound SMS (STOP/START keywords); anymail's
webhooks are mounted from anymail.urls."""

from __future__ import annotations

import hmac

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from relance.common.links import absolute_url
from relance.delivery.channels.twilio import twilio_setting
from relance.delivery.tracking import twilio_signature, twilio_status_record

ERROR_BAD_SIGNATURE = "invalid X-Twilio-Signature"


def _candidate_urls(request: HttpRequest) -> list[str]:
    """The URL Twilio signed: the public address (behind a proxy) or the one this request came to."""
    path = request.get_full_path()
    return [absolute_url(path), request.build_absolute_uri(path)]


def _signed_params(request: HttpRequest) -> list[tuple[str, str]] | None:
    """The POSTed parameters when the X-Twilio-Signature is valid for them, else None."""
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
        return None
    return params


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's StatusCallback: verify the signature, then record delivered/failed/undelivered."""
    params = _signed_params(request)
    if params is None:
        return HttpResponseForbidden(ERROR_BAD_SIGNATURE)
    twilio_status_record(params={key: value for key, value in params})
    return HttpResponse(status=204)


EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """Twilio's incoming-message webhook: a reply of STOP (or ARRÊT, START…) changes the sender's
    SMS opt-out, with the evidence kept. Answers empty TwiML: Twilio's own STOP handling replies."""
    params = _signed_params(request)
    if params is None:
        return HttpResponseForbidden(ERROR_BAD_SIGNATURE)
    from relance.compliance.services import inbound_sms_keyword

    fields = dict(params)
    inbound_sms_keyword(fields.get("From", ""), fields.get("Body", ""))
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
