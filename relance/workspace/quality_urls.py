"""The data-quality fix list's route, added to ``relance.workspace.urls`` (``workspace`` namespace)."""

from django.urls import path

from relance.workspace import quality_views

urlpatterns = [
    path("quality/", quality_views.quality_fix_list, name="quality"),
]
