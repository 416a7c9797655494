from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "relance.common"
    label = "common"

    def ready(self) -> None:
        from django.urls import register_converter

        from relance.common.converters import IdConverter

        register_converter(IdConverter, "id")
