from typing import Any

from django.apps import AppConfig
from django.core import checks


class DeliveryConfig(AppConfig):
    default = True  # this module also holds AnymailConfig
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


def anymail_settings_check(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """django-anymail's own checks (renamed and insecure ANYMAIL settings), imported when the
    checks run: ``anymail.checks`` loads ``requests``, a tenth of a second of every start."""
    from anymail.checks import check_deprecated_settings, check_insecure_settings

    return [
        *check_deprecated_settings(app_configs, **kwargs),
        *check_insecure_settings(app_configs, **kwargs),
    ]


class AnymailConfig(AppConfig):
    """django-anymail as an installed app, as ``anymail.apps.AnymailBaseConfig`` but with its
    checks registered lazily (``anymail_settings_check``): start-up, issue 20."""

    name = "anymail"
    label = "anymail"
    verbose_name = "Anymail"

    def ready(self) -> None:
        checks.register(anymail_settings_check)
