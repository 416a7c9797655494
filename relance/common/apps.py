from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "relance.common"
    label = "common"
