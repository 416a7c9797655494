from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "relance.delivery"
    label = "delivery"
    verbose_name = "Delivery (outbox, channels, tracking)"

    def ready(self) -> None:
        from anymail.signals import tracking

        from relance.comms.facts import reminded_before_register
        from relance.compliance.outbox import outbox_reader_register
        from relance.delivery import checks  # noqa: F401  (registers the deploy check)
        from relance.delivery.selectors import OutboxHistory, reminded_before
        from relance.delivery.tracking import anymail_tracking_received

        reminded_before_register(reminded_before)  # the wording's "previous reminder" (comms.facts)
        outbox_reader_register(OutboxHistory())  # what the contact caps count (compliance.outbox)

        tracking.connect(anymail_tracking_received, dispatch_uid="relance.delivery.tracking")
