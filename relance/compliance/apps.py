from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "relance.compliance"
    label = "compliance"
    verbose_name = "Compliance (contact rules, opt-outs)"
