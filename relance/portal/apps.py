from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "relance.portal"
    label = "portal"
    verbose_name = "Customer portal"

    def ready(self) -> None:
        from relance.cases.models import Dispute
        from relance.comms.facts import decided_plan_request_register
        from relance.comms.links import portal_link_maker_register
        from relance.ledger.models import VersionScope
        from relance.ledger.signals import bump_on_change
        from relance.portal.links import message_link_url
        from relance.portal.models import DisputeCase, PlanRequest
        from relance.portal.selectors import plan_request_decided_last

        portal_link_maker_register(message_link_url)  # messages' portal links (relance.comms.links)
        decided_plan_request_register(plan_request_decided_last)  # a plan decision's message

        bump_on_change(PlanRequest, scope=VersionScope.CASES)
        bump_on_change(
            DisputeCase,
            scope=VersionScope.CASES,
            entity_of=lambda case: (
                Dispute.objects.filter(pk=case.dispute_id).values_list("entity_id", flat=True).first()
            ),
        )
