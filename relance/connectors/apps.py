from __future__ import annotations

from datetime import datetime

from django.apps import AppConfig


def _sync_due(now: datetime) -> object:
    """The scheduled syncs, imported on first use: start-up loads no connector, ingest or HTTP code."""
    from relance.connectors.services import connectors_sync_due

    return connectors_sync_due(now)


class ConnectorsConfig(AppConfig):
    name = "relance.connectors"
    label = "connectors"
    verbose_name = "ERP connectors"

    def ready(self) -> None:
        # The worker runs the scheduled syncs through its periodic-job registry (it sits below this
        # app in the layers, so it cannot import it: the connectors register themselves).
        from relance.delivery.periodic import periodic_job_register

        periodic_job_register("connectors.sync", _sync_due)
