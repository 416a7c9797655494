from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "relance.quality"
    label = "quality"
    verbose_name = "Customer data quality"
