from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "relance.common"
    label = "common"

    def ready(self) -> None:
        from relance.common import checks  # noqa: F401  (registers the deploy check)
