from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "relance.webhooks"
    label = "webhooks"
    verbose_name = "Outbound webhooks"
