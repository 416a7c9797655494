from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "relance.delivery"
    label = "delivery"
    verbose_name = "Delivery (outbox, channels, tracking)"

    def ready(self) -> None:
        from anymail.signals import tracking

        from relance.delivery import checks  # noqa: F401  (registers the deploy check)
        from relance.delivery.tracking import anymail_tracking_received

        tracking.connect(anymail_tracking_received, dispatch_uid="relance.delivery.tracking")
