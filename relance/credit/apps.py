from django.apps import AppConfig


class CreditConfig(AppConfig):
    name = "relance.credit"
    label = "credit"
    verbose_name = "Credit management"
