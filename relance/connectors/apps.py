from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "relance.connectors"
    label = "connectors"
    verbose_name = "ERP connectors"

    def ready(self) -> None:
        # The worker runs the scheduled syncs through its periodic-job registry (it sits below this
        # app in the layers, so it cannot import it: the connectors register themselves).
        from relance.connectors.services import connectors_sync_due
        from relance.delivery.periodic import periodic_job_register

        periodic_job_register("connectors.sync", connectors_sync_due)
