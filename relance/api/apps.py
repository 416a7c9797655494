from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "relance.api"
    label = "api"
