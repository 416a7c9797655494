from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "relance.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from relance.audit import signals

        signals.connect()
