from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "relance.portal"
    label = "portal"
    verbose_name = "Customer portal"

    def ready(self) -> None:
        from relance.cases.models import Dispute
        from relance.ledger.models import VersionScope
        from relance.ledger.signals import bump_on_change
        from relance.portal.models import DisputeCase, PlanRequest

        bump_on_change(PlanRequest, scope=VersionScope.CASES)
        bump_on_change(
            DisputeCase,
            scope=VersionScope.CASES,
            entity_of=lambda case: (
                Dispute.objects.filter(pk=case.dispute_id).values_list("entity_id", flat=True).first()
            ),
        )
