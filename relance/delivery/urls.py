"""URLs of the delivery app (mounted under /delivery/ in config/urls.py)."""

from django.urls import path  # noqa: F401

app_name = "delivery"
urlpatterns: list = []
