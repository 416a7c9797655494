from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "relance.portal"
    label = "portal"
    verbose_name = "Customer portal"

    def ready(self) -> None:
        from relance.cases.models import Dispute
        from relance.common.lazy import imported_on_call
        from relance.comms.facts import decided_plan_request_register
        from relance.comms.links import portal_link_maker_register
        from relance.ledger.models import VersionScope
        from relance.ledger.signals import bump_on_change
        from relance.portal.models import DisputeCase, PlanRequest

        # Handed over without importing the portal's links and selectors at every start (issue 20).
        # Messages' portal links (relance.comms.links) and a plan decision's message (comms.facts):
        portal_link_maker_register(imported_on_call("relance.portal.links.message_link_url"))
        decided_plan_request_register(imported_on_call("relance.portal.selectors.plan_request_decided_last"))

        bump_on_change(PlanRequest, scope=VersionScope.CASES)
        bump_on_change(
            DisputeCase,
            scope=VersionScope.CASES,
            entity_of=lambda case: (
                Dispute.objects.filter(pk=case.dispute_id).values_list("entity_id", flat=True).first()
            ),
        )
