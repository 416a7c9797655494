from django.apps import AppConfig


class PredictConfig(AppConfig):
    name = "relance.predict"
    label = "predict"
    verbose_name = "Predictions"

    def ready(self) -> None:
        # The dunning engine's p_late conditions read the stored predictions: handed down to the
        # dunning binding (a layer below, which imports nothing of this app).
        from relance.dunning.binding import optional_table_register
        from relance.predict.binding import invoice_predictions_table

        optional_table_register("invoice_predictions", invoice_predictions_table)
