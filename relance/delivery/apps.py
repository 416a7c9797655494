from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "relance.delivery"
    label = "delivery"
    verbose_name = "Delivery (outbox, channels, tracking)"
