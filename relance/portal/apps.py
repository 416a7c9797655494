from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "relance.portal"
    label = "portal"
    verbose_name = "Customer portal"
