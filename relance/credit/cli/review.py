"""``relance credit review run|list|decide``: the daily credit step, the open reviews, a decision."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

from django.core.management.base import CommandParser

NAME = "review"
HELP = (
    "Credit reviews: `run` scores the day and opens a review per customer with a trigger (limit "
    "breached, high utilisation, class dropped, derogatory event, broken promises, good behaviour, "
    "scheduled); `list` shows the open ones with their proposal; `decide ID --accept|--reject`."
)


def add_arguments(parser: CommandParser) -> None:
    from relance.dunning import cli

    actions = parser.add_subparsers(dest="review_action", required=True, metavar="{run,list,decide}")
    run = actions.add_parser("run", help="score the day and open or update the reviews")
    cli.add_entity(run)
    run.add_argument("--as-of", metavar="DATE", help="Day to review (YYYY-MM-DD; default: today)")
    run.add_argument("--json", action="store_true", help="Print the counts as JSON")
    listing = actions.add_parser("list", help="the open reviews, the most exposure at stake first")
    cli.add_entity(listing)
    listing.add_argument("--json", action="store_true", help="Print a JSON list")
    decide = actions.add_parser("decide", help="accept or reject an open review")
    cli.add_entity(decide)
    decide.add_argument("id", type=int, metavar="ID", help="The review's id (from `review list`)")
    choice = decide.add_mutually_exclusive_group(required=True)
    choice.add_argument("--accept", action="store_true", help="Accept the proposal")
    choice.add_argument("--reject", action="store_true", help="Reject it (nothing changes on the customer)")
    decide.add_argument(
        "--limit", metavar="AMOUNT", help="Accept with this limit instead of the proposed one"
    )
    decide.add_argument("--terms", type=int, metavar="DAYS", help="Accept with these payment terms")
    decide.add_argument("--note", default="", help="Why (kept with the decision)")
    decide.add_argument("--on", metavar="DATE", help="Decision day (default: today)")
    decide.add_argument("--json", action="store_true", help="Print the decided review as JSON")


def handle(command: Any, options: dict[str, Any]) -> None:
    from django.core.management.base import CommandError

    from relance.core.errors import RelanceError
    from relance.dunning import cli

    entity = cli.entity(options)
    try:
        if options["review_action"] == "run":
            _run(command, entity, options)
        elif options["review_action"] == "list":
            _list(command, entity, options)
        else:
            _decide(command, entity, options)
    except RelanceError as exc:
        raise CommandError(exc.message) from None


def _console(width: int = 160) -> tuple[Any, io.StringIO]:
    from rich.console import Console

    buffer = io.StringIO()
    return Console(file=buffer, width=width, force_terminal=False, color_system=None), buffer


def _run(command: Any, entity: Any, options: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from relance.audit.context import audit_actor, cli_actor_label
    from relance.core.actors import Actor
    from relance.credit.services.notices import credit_notices_run
    from relance.credit.services.reviews import review_run
    from relance.dunning import cli

    as_of = cli.business_day(options, entity, name="as_of")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with (
        audit_actor(label=cli_actor_label()),
        Progress(*columns, console=Console(stderr=True), transient=True) as bar,
    ):
        task = bar.add_task("credit review", total=None)
        outcome = review_run(
            entity=entity,
            as_of=as_of,
            actor=Actor.cli(),
            progress=lambda step: bar.update(task, description=f"credit review: {step}"),
        )
        # the rest of the daily credit step: utilisation and card notices, insurance declarations
        bar.update(task, description="credit review: notices")
        notices = credit_notices_run(entity=entity, as_of=as_of)
    if options["json"]:
        payload = {"entity": entity.name, **outcome.to_json(), "notices": notices.as_dict()}
        command.stdout.write(json.dumps(payload, indent=2, default=str))
        return
    console, buffer = _console(120)
    since = f"compared with {outcome.previous_day}" if outcome.previous_day else "no earlier scoring day"
    console.print(f"{entity.name} · credit reviews as of {outcome.as_of} ({since})")
    console.print(
        f"{outcome.scored} customers scored; {outcome.opened} review(s) opened, {outcome.updated} updated, "
        f"{outcome.unchanged} unchanged; {outcome.scheduled} customer(s) given a first review day."
    )
    console.print(f"Notices and insurance: {notices.as_dict()}")
    from rich.table import Table

    for title, counts in (("Trigger", outcome.by_trigger), ("Proposal", outcome.by_proposal)):
        if counts:
            table = Table()
            table.add_column(title)
            table.add_column("Reviews", justify="right")
            for key, count in counts.items():
                table.add_row(key, str(count))
            console.print(table)
    command.stdout.write(buffer.getvalue())


def review_row(review: Any) -> dict[str, Any]:
    """A review as ``review list --json`` prints it."""
    return {
        "id": review.pk,
        "customer_ref": review.customer.external_ref,
        "customer_name": review.customer.name,
        "opened_on": review.opened_on.isoformat(),
        "status": review.status,
        "triggers": [
            {"code": item["code"], "text": item["text"], "on": item.get("on")} for item in review.triggers
        ],
        "proposal": review.proposal,
        "proposed_limit": None if review.proposed_limit is None else str(review.proposed_limit),
        "proposed_terms_days": review.proposed_terms_days,
        "currency": review.currency,
        "reasons": list(review.reasons),
        "basis": review.basis,
    }


def _list(command: Any, entity: Any, options: dict[str, Any]) -> None:
    from rich.table import Table

    from relance.credit.selectors.reviews import review_list_open
    from relance.dunning import cli

    reviews = review_list_open(entity=entity)
    if options["json"]:
        command.stdout.write(json.dumps([review_row(review) for review in reviews], indent=2))
        return
    console, buffer = _console()
    console.print(f"{entity.name} · {len(reviews)} open credit review(s), the most exposure at stake first")
    table = Table()
    for column in ("ID", "Customer", "Opened", "Exposure", "Limit", "Class", "Triggers", "Proposal"):
        table.add_column(column, no_wrap=column in ("ID", "Opened", "Exposure", "Limit"))
    for review in reviews:
        basis = review.basis
        limit = basis.get("credit_limit")
        proposal = review.get_proposal_display()
        if review.proposed_limit is not None and review.proposed_limit != _decimal(limit):
            proposal += f" to {cli.money(review.proposed_limit, review.currency, entity)}"
        table.add_row(
            str(review.pk),
            f"{review.customer.external_ref} {review.customer.name}",
            review.opened_on.isoformat(),
            cli.money(_decimal(basis.get("exposure")) or Decimal(0), review.currency, entity),
            "none" if limit is None else cli.money(Decimal(str(limit)), review.currency, entity),
            str(basis.get("risk_class") or "—"),
            "\n".join(_trigger_text(item, basis) for item in review.triggers),
            proposal + "\n" + "\n".join(review.reasons),
        )
    if reviews:
        console.print(table)
    else:
        console.print("No open review.")
    command.stdout.write(buffer.getvalue())


def _trigger_text(item: dict[str, Any], basis: dict[str, Any]) -> str:
    """A trigger's sentence, with the day it fired when that was before the latest run."""
    on = item.get("on")
    return str(item["text"]) + (f" ({on})" if on and on != basis.get("scored_on") else "")


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _decide(command: Any, entity: Any, options: dict[str, Any]) -> None:
    from relance.audit.context import audit_actor, cli_actor_label
    from relance.core.actors import Actor
    from relance.credit.selectors.reviews import review_get
    from relance.credit.services.reviews import review_decide
    from relance.dunning import cli

    review = review_get(entity=entity, review_id=options["id"])
    on = cli.parse_date(options["on"]) if options["on"] else None
    with audit_actor(label=cli_actor_label()):
        review = review_decide(
            review=review,
            actor=Actor.cli(),
            accept=bool(options["accept"]),
            limit=cli.parse_money(options["limit"]),
            terms_days=options["terms"],
            note=options["note"],
            on=on,
        )
    if options["json"]:
        command.stdout.write(json.dumps(review_row(review), indent=2))
        return
    customer = review.customer
    if review.decision is None:
        command.stdout.write(f"Review {review.pk} of {customer.external_ref} rejected; nothing changed.")
        return
    decision = review.decision
    limit = (
        "none"
        if customer.credit_limit is None
        else cli.money(customer.credit_limit, customer.currency, entity)
    )
    command.stdout.write(
        f"Review {review.pk} of {customer.external_ref} accepted: {decision.get_kind_display().lower()}; "
        f"limit {limit}, terms {customer.payment_terms_days} days."
    )
