from django.apps import AppConfig


class ChargesConfig(AppConfig):
    name = "relance.charges"
    label = "charges"
    verbose_name = "Late-payment charges"
