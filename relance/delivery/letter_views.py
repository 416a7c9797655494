"""Download a stored letter (the PDF the letter channel rendered): signed-in users who may see its customer.

Mounted by relance/delivery/urls.py as ``letters/<id:message_pk>/pdf`` (name ``delivery:letter_pdf``).
A message to a customer the user may not see (``customer_scope``) answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest

from relance.accounts.selectors import customer_scope
from relance.delivery.models import OutboundMessage

LETTER_PREFIX = "letter-"


@login_required
def letter_pdf_download(request: HttpRequest, message_pk: int) -> FileResponse:
    message = (
        customer_scope(request.user, OutboundMessage.objects.filter(pk=message_pk), customer_field="customer")
        .only("pk")
        .first()
    )
    if message is None:
        raise Http404("No such letter.")
    attachment = (
        message.attachments.filter(content_type="application/pdf", filename__startswith=LETTER_PREFIX)
        .order_by("-id")
        .first()
    )
    if attachment is None:
        raise Http404("This message has no letter yet (it is rendered when the letter is sent).")
    return FileResponse(
        attachment.file.open("rb"),
        content_type="application/pdf",
        as_attachment=request.GET.get("download") == "1",
        filename=attachment.filename,
    )
