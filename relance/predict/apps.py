from django.apps import AppConfig


class PredictConfig(AppConfig):
    name = "relance.predict"
    label = "predict"
    verbose_name = "Predictions"

    def ready(self) -> None:
        # The dunning engine's p_late conditions read the stored predictions: handed down to the
        # dunning binding (a layer below, which imports nothing of this app).
        # Lazy: registering loads neither Ibis nor either binding at start-up (tests/test_cli.py).
        from relance.common.lazy import imported_on_call
        from relance.dunning.optional_tables import optional_table_register

        optional_table_register(
            "invoice_predictions", imported_on_call("relance.predict.binding.invoice_predictions_table")
        )
