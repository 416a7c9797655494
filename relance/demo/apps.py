from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "relance.demo"
    label = "demo"
