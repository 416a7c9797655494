"""URLs of the comms app (mounted under /comms/ in config/urls.py)."""

from django.urls import path  # noqa: F401

app_name = "comms"
urlpatterns: list = []
