from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "relance.webhooks"
    label = "webhooks"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        from relance.events.services import interest_set
        from relance.webhooks.selectors import endpoint_wants

        interest_set(endpoint_wants)
