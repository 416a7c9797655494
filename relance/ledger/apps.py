from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "relance.ledger"
    label = "ledger"
    verbose_name = "Ledger"

    def ready(self) -> None:
        from relance.ledger.signals import connect_ledger

        connect_ledger()
