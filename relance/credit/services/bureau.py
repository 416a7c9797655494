"""Bureau reports stored, and whether a new one is a deterioration (issue 15, item 3).

A report is stored with its date and the bureau's raw payload (credit managers only: the audit
event keeps the summary, never the payload). A new report is a **deterioration** when, against the
customer's previous report from the same bureau, its score is lower or it has more derogatory
events; the review trigger reads that (``BureauStored.triggers``). Only the newest report can
deteriorate: a report dated before one already stored (a back-filled history) compares with
nothing later than itself and triggers nothing. Scores of different bureaus are not compared: a
Creditsafe 64 and a D&B percentile 83 are different measures even on one scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from relance.audit.context import audit_suppressed
from relance.audit.services import audit_record
from relance.core.actors import Actor
from relance.core.errors import ErrorList, FieldError, ValidationFailed
from relance.credit.bureau import BureauReportData, parse_bureau_file
from relance.credit.models import BureauReport, BureauSource
from relance.ledger.models import Customer, Entity

EXPECTED_KNOWN_CUSTOMER = "a customer_ref already imported for this entity"
TRIGGER_SCORE_DROPPED = "bureau_score_dropped"
TRIGGER_DEROGATORY = "bureau_derogatory_event"


@dataclass(frozen=True)
class BureauStored:
    """What storing a report did: the row, the report it was compared with, and the review
    triggers (``[{code, text, facts}]``, as ``CreditReview.triggers`` keeps them) when it is a
    deterioration."""

    report: BureauReport
    previous: BureauReport | None
    triggers: tuple[dict[str, Any], ...] = ()

    @property
    def deteriorated(self) -> bool:
        return bool(self.triggers)


@dataclass(frozen=True)
class BureauImportOutcome:
    source: str
    provider: str
    stored: int
    deteriorated: tuple[str, ...] = field(default_factory=tuple)  # customer refs

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "provider": self.provider,
            "stored": self.stored,
            "deteriorated": list(self.deteriorated),
        }


def _label(provider: str) -> str:
    return {"creditsafe": "Creditsafe", "dnb": "D&B"}.get(provider, provider)


def _score_text(score: float | None) -> str:
    return "none" if score is None else f"{score:g}"


def deterioration_triggers(new: BureauReport, previous: BureauReport | None) -> tuple[dict[str, Any], ...]:
    """The review triggers a new report raises against the previous one (none when it is the
    first, or when neither its score fell nor its derogatory events grew)."""
    if previous is None:
        return ()
    triggers: list[dict[str, Any]] = []
    bureau = _label(new.provider)
    if (
        new.bureau_score is not None
        and previous.bureau_score is not None
        and new.bureau_score < previous.bureau_score
    ):
        triggers.append(
            {
                "code": TRIGGER_SCORE_DROPPED,
                "text": (
                    f"{bureau} score fell from {_score_text(previous.bureau_score)} to "
                    f"{_score_text(new.bureau_score)} (report of {new.reported_on.isoformat()})"
                ),
                "facts": {
                    "provider": new.provider,
                    "previous_score": previous.bureau_score,
                    "score": new.bureau_score,
                    "previous_reported_on": previous.reported_on.isoformat(),
                    "reported_on": new.reported_on.isoformat(),
                },
            }
        )
    if new.derogatory_events > previous.derogatory_events:
        added = new.derogatory_events - previous.derogatory_events
        kinds = sorted(
            {str(event.get("kind", "")) for event in new.derogatory if isinstance(event, dict)} - {""}
        )
        what = f" ({', '.join(kinds)})" if kinds else ""
        triggers.append(
            {
                "code": TRIGGER_DEROGATORY,
                "text": (
                    f"{bureau} reports {added} new derogatory event{'s' if added > 1 else ''}{what}: "
                    f"{new.derogatory_events} against {previous.derogatory_events} "
                    f"(report of {new.reported_on.isoformat()})"
                ),
                "facts": {
                    "provider": new.provider,
                    "previous_count": previous.derogatory_events,
                    "count": new.derogatory_events,
                    "reported_on": new.reported_on.isoformat(),
                },
            }
        )
    return tuple(triggers)


@transaction.atomic
def bureau_report_store(
    *,
    entity: Entity,
    customer: Customer,
    data: BureauReportData,
    actor: Actor,
    source: str = BureauSource.API,
    audit: bool = True,
) -> BureauStored:
    """Store ``data`` for ``customer`` (a second report from the same bureau on the same day
    replaces the first: re-importing a file changes nothing) and say whether it deteriorates."""
    if customer.entity_id != entity.pk:
        raise ValidationFailed(f"customer {customer.external_ref} is not a customer of {entity}")
    reports = BureauReport.objects.filter(entity=entity, customer=customer, provider=data.provider)
    same_day = reports.filter(reported_on=data.reported_on).order_by("-id").first()
    later = reports.filter(reported_on__gt=data.reported_on).exists()
    previous = (
        None
        if later
        else reports.filter(reported_on__lt=data.reported_on).order_by("-reported_on", "-id").first()
    )
    values: dict[str, Any] = {
        "provider_company_id": data.provider_company_id[:100],
        "source": source,
        "bureau_score": data.bureau_score,
        "provider_score": data.provider_score[:40],
        "rating": data.rating[:40],
        "recommended_limit": data.recommended_limit,
        "recommended_currency": data.currency or "",
        "derogatory_events": len(data.derogatory_events),
        "derogatory": [event.as_json() for event in data.derogatory_events],
        "identifiers": dict(data.identifiers),
        "raw_payload": dict(data.raw_payload),
        "created_by_id": actor.user_id,
    }
    with audit_suppressed():  # the payload stays out of the audit trail: the summary goes in below
        if same_day is None:
            report = BureauReport.objects.create(
                entity=entity,
                customer=customer,
                provider=data.provider,
                reported_on=data.reported_on,
                **values,
            )
        else:
            for name, value in values.items():
                setattr(same_day, name, value)
            same_day.save()
            report = same_day
    triggers = deterioration_triggers(report, previous)
    if audit:
        audit_record(
            action="bureau_report",
            obj=customer,
            actor=_acting_user(actor),
            actor_label=actor.label,
            after={
                "report": report.pk,
                "provider": report.provider,
                "reported_on": report.reported_on.isoformat(),
                "bureau_score": report.bureau_score,
                "rating": report.rating,
                "recommended_limit": str(report.recommended_limit)
                if report.recommended_limit is not None
                else None,
                "recommended_currency": report.recommended_currency,
                "derogatory_events": report.derogatory_events,
                "deteriorated": bool(triggers),
            },
        )
    return BureauStored(report=report, previous=previous, triggers=triggers)


def bureau_file_import(
    *, entity: Entity, path: Path | str, provider: str, actor: Actor
) -> BureauImportOutcome:
    """A bureau's report file, all or nothing: a malformed cell or a ``customer_ref`` this entity
    does not have rejects the whole file (every problem as ``FILE:LINE: field``), nothing stored."""
    rows = parse_bureau_file(path, provider)
    refs = {row.customer_ref for row in rows}
    customers = {
        customer.external_ref: customer
        for customer in Customer.objects.filter(entity=entity, external_ref__in=refs)
    }
    unknown = [
        FieldError("customer_ref", EXPECTED_KNOWN_CUSTOMER, row.customer_ref, row.line, str(path))
        for row in rows
        if row.customer_ref not in customers
    ]
    if unknown:
        raise ErrorList(unknown)
    deteriorated: list[str] = []
    provider_name = rows[0].report.provider
    with transaction.atomic():
        for row in _in_date_order(rows):
            stored = bureau_report_store(
                entity=entity,
                customer=customers[row.customer_ref],
                data=row.report,
                actor=actor,
                source=BureauSource.FILE,
                audit=False,
            )
            if stored.deteriorated and row.customer_ref not in deteriorated:
                deteriorated.append(row.customer_ref)
        audit_record(
            action="bureau_import",
            actor=_acting_user(actor),
            actor_label=actor.label,
            object_type="credit.bureaureport",
            object_repr=f"{provider_name} file {Path(path).name}",
            entity=entity,
            after={
                "source": str(path),
                "provider": provider_name,
                "stored": len(rows),
                "deteriorated": len(deteriorated),
            },
        )
    return BureauImportOutcome(str(path), provider_name, len(rows), tuple(deteriorated))


def _in_date_order(rows: Sequence[Any]) -> list[Any]:
    """Oldest first, so that a file carrying a customer's history compares each report with the
    one before it."""
    return sorted(rows, key=lambda row: (row.report.reported_on, row.line))


def _acting_user(actor: Actor) -> Any:
    """The user behind ``actor`` for the audit log (``None`` for the CLI and jobs)."""
    if actor.user_id is None:
        return None
    return get_user_model().objects.filter(pk=actor.user_id).first()
