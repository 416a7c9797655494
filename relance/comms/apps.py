from django.apps import AppConfig


class CommsConfig(AppConfig):
    name = "relance.comms"
    label = "comms"
    verbose_name = "Communications (templates and content)"
