"""Customer data quality (issue 19, C3): duplicates and merges, contact validation, returned mail,
the data-quality score and its fix list. See docs/data-quality.md."""

from typing import Any

from django.apps import AppConfig

#: The imports after which the monitoring runs: the ones that change contacts or customers.
MONITORED_IMPORTS = ("customers", "contacts")


def _after_import(sender: Any, *, entity: Any, kind: str, rows: int, **kwargs: Any) -> str | None:
    """The monitoring step after an import (``relance.ingest.signals.import_committed``)."""
    if kind not in MONITORED_IMPORTS:
        return None
    from relance.quality.report import quality_check

    return quality_check(entity=entity, trigger=f"import:{kind}").summary()


class QualityConfig(AppConfig):
    name = "relance.quality"
    label = "quality"
    verbose_name = "Customer data quality"

    def ready(self) -> None:
        from relance.ingest.signals import import_committed

        import_committed.connect(_after_import, dispatch_uid="relance.quality.after_import", weak=False)
