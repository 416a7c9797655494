from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "relance.common"
    label = "common"

    def ready(self) -> None:
        from django.core import checks
        from django.urls import register_converter

        from relance.common.client import trusted_proxies_check, trusted_proxies_deploy_check
        from relance.common.converters import IdConverter

        register_converter(IdConverter, "id")
        checks.register(trusted_proxies_check, checks.Tags.security)
        checks.register(trusted_proxies_deploy_check, checks.Tags.security, deploy=True)
        import relance.common.checks  # noqa: F401  (registers the deploy check)
