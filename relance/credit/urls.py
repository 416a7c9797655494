"""URLs of the public credit application form (mounted under /credit/ in config/urls.py).

The back office's pages are the workspace's (``relance.workspace.credit_applications``)."""

from django.urls import path

from relance.credit import views

app_name = "credit"
urlpatterns = [
    path("apply/<str:token>/", views.apply, name="apply"),
]
