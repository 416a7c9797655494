"""URLs of the delivery app (mounted under /delivery/ in config/urls.py): provider callbacks."""

from django.urls import include, path

from relance.delivery import letter_views, outbox_views, views
from relance.delivery.webhooks import anymail_urlpatterns

app_name = "delivery"
urlpatterns = [
    path("outbox/", outbox_views.outbox_page, name="outbox"),
    path("outbox/export.csv", outbox_views.outbox_export, name="outbox_export"),
    path("outbox/<id:message_id>/act", outbox_views.outbox_act, name="outbox_act"),
    path("twilio/status/", views.twilio_status, name="twilio_status"),
    path("twilio/inbound/", views.twilio_inbound, name="twilio_inbound"),
    path("letters/<id:message_pk>/pdf", letter_views.letter_pdf_download, name="letter_pdf"),
    # django-anymail's tracking webhooks, authenticated: /delivery/anymail/<provider>/tracking/
    path("anymail/", include(anymail_urlpatterns())),
]
