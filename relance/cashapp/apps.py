from django.apps import AppConfig


class CashappConfig(AppConfig):
    name = "relance.cashapp"
    label = "cashapp"
    verbose_name = "Cash application"
