"""URLs of the compliance app (mounted under /compliance/ in config/urls.py)."""

from django.urls import path

from relance.compliance import views

app_name = "compliance"
urlpatterns = [
    path("opt-out/<str:token>/", views.opt_out, name="opt_out"),
    path("hold/<str:token>/", views.owner_hold, name="owner_hold"),
]
