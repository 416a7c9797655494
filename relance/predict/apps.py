from django.apps import AppConfig


class PredictConfig(AppConfig):
    name = "relance.predict"
    label = "predict"
    verbose_name = "Predictions"
