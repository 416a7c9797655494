"""URLs of the customer portal (mounted under /portal/ in config/urls.py)."""

from django.urls import path  # noqa: F401

app_name = "portal"
urlpatterns: list = []
