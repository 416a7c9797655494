"""URLs of the comms app (mounted under /comms/ in config/urls.py)."""

from django.urls import path

from relance.comms import views

app_name = "comms"
urlpatterns = [
    path("preview/", views.preview, name="preview"),
    path("preview/frame/", views.preview_frame, name="preview_frame"),
    path("portal/<str:token>/", views.portal_placeholder, name="portal"),
    path("logo/<id:entity_id>/", views.entity_logo, name="entity_logo"),
]
