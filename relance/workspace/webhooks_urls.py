"""The webhook endpoints' routes (``relance/workspace/webhooks.py``), added to
``relance.workspace.urls`` (the ``workspace`` namespace, under ``/w/``)."""

from django.urls import path

from relance.workspace import webhooks

urlpatterns = [
    path("webhooks/", webhooks.webhook_list, name="webhooks"),
    path("webhooks/new/", webhooks.webhook_create, name="webhook_create"),
    path("webhooks/<id:endpoint_id>/", webhooks.webhook_detail, name="webhook"),
    path("webhooks/<id:endpoint_id>/rotate/", webhooks.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<id:endpoint_id>/active/", webhooks.webhook_active, name="webhook_active"),
    path("webhooks/<id:endpoint_id>/test/", webhooks.webhook_test, name="webhook_test"),
    path(
        "webhooks/<id:endpoint_id>/deliveries/<id:delivery_id>/replay/",
        webhooks.webhook_replay,
        name="webhook_replay",
    ),
]
