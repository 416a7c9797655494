"""URLs of the comms app (mounted under /comms/ in config/urls.py)."""

from django.urls import path

from relance.comms import template_views, views

app_name = "comms"
TEMPLATE = "templates/<slug:key>/<slug:channel>/<slug:language>/"
urlpatterns = [
    path("preview/", views.preview, name="preview"),
    path("preview/frame/", views.preview_frame, name="preview_frame"),
    path("logo/<id:entity_id>/", views.entity_logo, name="entity_logo"),
    # The Templates page (relance/comms/template_views.py, docs/communications.md).
    path("templates/", template_views.template_list, name="templates"),
    path("templates/customers/", template_views.template_customers, name="template_customers"),
    path(TEMPLATE, template_views.template_page, name="template"),
    path(f"{TEMPLATE}preview/", template_views.template_preview, name="template_preview"),
    path(f"{TEMPLATE}revert/<id:version_id>/", template_views.template_revert, name="template_revert"),
    path(f"{TEMPLATE}shipped/", template_views.template_use_shipped, name="template_shipped"),
]
