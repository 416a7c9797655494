"""URLs of the delivery app (mounted under /delivery/ in config/urls.py): provider callbacks."""

from django.urls import include, path

from relance.delivery import views

app_name = "delivery"
urlpatterns = [
    path("twilio/status/", views.twilio_status, name="twilio_status"),
    # django-anymail's tracking webhooks: /delivery/anymail/<provider>/tracking/
    path("anymail/", include("anymail.urls")),
]
