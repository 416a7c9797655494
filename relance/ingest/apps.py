from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "relance.ingest"
    label = "ingest"
