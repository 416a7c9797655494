from django.apps import AppConfig


class CreditConfig(AppConfig):
    name = "relance.credit"
    label = "credit"
    verbose_name = "Credit management"

    def ready(self) -> None:
        from relance.credit.services.notices import notice_checks
        from relance.delivery.compliance import still_true_register

        # The credit notices' "still true?" (utilisation still over, card still expiring),
        # asked by delivery's one send-time check (relance.delivery.compliance).
        for name, check in notice_checks():
            still_true_register(name, check)
