"""``relance credit bureau import FILE --provider NAME``: a bureau's report file, all or nothing;
``relance credit bureau fetch CUSTOMER_REF --provider creditsafe|dnb --id ID``: one report from
the bureau's API (credentials from the environment, docs/credit.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

NAME = "bureau"
HELP = (
    "Bureau reports: import a bureau's report file (CSV/XLSX; a malformed cell or an unknown "
    "customer rejects it whole, every problem as FILE:LINE: field) or fetch one report from "
    "Creditsafe or D&B. A report with a lower score or more derogatory events than the previous "
    "one from the same bureau is a deterioration: a review is due."
)
REJECTED = "{count} error(s); nothing was stored (fix the file and import it again)"


def add_arguments(parser: CommandParser) -> None:
    actions = parser.add_subparsers(dest="bureau_action", required=True, metavar="{import,fetch}")
    load = actions.add_parser("import", help="import a bureau's report file", description=HELP)
    load.add_argument("file", type=Path, help="a .csv or .xlsx file (docs/credit.md: Bureau data)")
    load.add_argument(
        "--provider", required=True, help="the bureau that made it: creditsafe, dnb, or any name"
    )
    load.add_argument("--entity", help="creditor entity (default: the only one)")
    load.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")
    fetch = actions.add_parser("fetch", help="fetch one report from a bureau's API", description=HELP)
    fetch.add_argument("customer_ref", help="the customer the report is about")
    fetch.add_argument("--provider", required=True, choices=("creditsafe", "dnb"))
    fetch.add_argument(
        "--id", required=True, dest="company_id", help="Creditsafe connectId or D-U-N-S number"
    )
    fetch.add_argument("--entity", help="creditor entity (default: the only one)")
    fetch.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    from relance.audit.context import audit_actor, cli_actor_label
    from relance.core.actors import Actor
    from relance.core.errors import ErrorList, NotFound, ValidationFailed
    from relance.credit.bureau import BureauError
    from relance.ledger.selectors import entity_resolve

    try:
        entity = entity_resolve(name=options.get("entity"))
        with audit_actor(label=cli_actor_label()):
            if options["bureau_action"] == "import":
                _import(command, entity, Actor.cli(), options)
            else:
                _fetch(command, entity, Actor.cli(), options)
    except ErrorList as errors:
        for error in errors.errors:
            command.stderr.write(str(error))
        raise CommandError(REJECTED.format(count=len(errors.errors))) from None
    except (ValidationFailed, NotFound, BureauError) as exc:
        raise CommandError(exc.message) from None


def _import(command: BaseCommand, entity: Any, actor: Any, options: dict[str, Any]) -> None:
    from relance.credit.services.bureau import bureau_file_import

    path: Path = options["file"]
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    outcome = bureau_file_import(entity=entity, path=path, provider=options["provider"], actor=actor)
    if options["json"]:
        command.stdout.write(json.dumps(outcome.as_dict(), indent=2))
        return
    line = f"{outcome.source}: {outcome.stored:,} report(s) from {outcome.provider} stored"
    if outcome.deteriorated:
        line += (
            f"; {len(outcome.deteriorated)} deteriorated (lower score or more derogatory events), "
            f"a review is due: {', '.join(outcome.deteriorated)}"
        )
    command.stdout.write(line)


def _fetch(command: BaseCommand, entity: Any, actor: Any, options: dict[str, Any]) -> None:
    from relance.core.errors import NotFound
    from relance.credit.bureau import provider_from_env
    from relance.credit.services.bureau import bureau_report_store
    from relance.ledger.models import Customer

    customer = Customer.objects.filter(entity=entity, external_ref=options["customer_ref"]).first()
    if customer is None:
        raise NotFound(f"no customer {options['customer_ref']!r} in {entity}")
    provider = provider_from_env(options["provider"])
    try:
        data = provider.report(options["company_id"])
    finally:
        provider.close()
    stored = bureau_report_store(entity=entity, customer=customer, data=data, actor=actor)
    report = stored.report
    if options["json"]:
        command.stdout.write(
            json.dumps(
                {
                    "customer_ref": customer.external_ref,
                    "provider": report.provider,
                    "reported_on": report.reported_on.isoformat(),
                    "bureau_score": report.bureau_score,
                    "rating": report.rating,
                    "recommended_limit": str(report.recommended_limit)
                    if report.recommended_limit is not None
                    else None,
                    "currency": report.recommended_currency or None,
                    "derogatory_events": report.derogatory_events,
                    "deteriorated": stored.deteriorated,
                    "triggers": [trigger["text"] for trigger in stored.triggers],
                },
                indent=2,
            )
        )
        return
    score = "no score" if report.bureau_score is None else f"score {report.bureau_score:g}"
    command.stdout.write(
        f"{customer.external_ref}: {report.provider} report of {report.reported_on.isoformat()} stored "
        f"({score}, {report.derogatory_events} derogatory event(s))"
    )
    for trigger in stored.triggers:
        command.stdout.write(f"deteriorated: {trigger['text']}")
