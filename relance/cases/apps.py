from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "relance.cases"
    label = "cases"
    verbose_name = "Customer cases (promises, disputes, plans, holds)"

    def ready(self) -> None:
        from relance.cases.models import CustomerHold, Dispute, Installment, PaymentPlan, Promise
        from relance.ledger.models import VersionScope
        from relance.ledger.signals import bump_on_change

        bump_on_change(Promise, Dispute, PaymentPlan, CustomerHold, scope=VersionScope.CASES)
        bump_on_change(
            Installment,
            scope=VersionScope.CASES,
            entity_of=lambda installment: (
                PaymentPlan.objects.filter(pk=installment.plan_id).values_list("entity_id", flat=True).first()
            ),
        )
