"""``relance quality merge SURVIVOR_REF MERGED_REF`` and ``--undo MERGED_REF``."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

NAME = "merge"
HELP = (
    "Merge a duplicate customer into the one that survives: every invoice, payment, contact, "
    "message, promise, dispute, note and audit row of both is kept on the survivor, and the merged "
    "customer's ref becomes an alias so later imports land on the survivor. `--undo MERGED_REF` "
    "puts it back, until the entity's next dunning run."
)


def add_arguments(parser: CommandParser) -> None:
    from relance.dunning import cli

    cli.add_entity(parser)
    parser.add_argument("refs", nargs="*", metavar="REF", help="SURVIVOR_REF MERGED_REF")
    parser.add_argument("--undo", metavar="MERGED_REF", help="Undo the latest merge of this ref")
    parser.add_argument("--json", action="store_true", help="Print the outcome as JSON")


def handle(command: Any, options: dict[str, Any]) -> None:
    from django.core.management.base import CommandError

    from relance.audit.context import audit_actor, cli_actor_label
    from relance.core.errors import RelanceError
    from relance.dunning import cli
    from relance.quality.merge import customer_merge, customer_merge_undo, merge_latest

    entity = cli.entity(options)
    label = cli_actor_label()
    try:
        with audit_actor(label=label):
            if options["undo"]:
                if options["refs"]:
                    raise CommandError("give either SURVIVOR_REF MERGED_REF or --undo MERGED_REF, not both")
                merge = customer_merge_undo(
                    merge=merge_latest(entity=entity, merged_ref=options["undo"]), actor_label=label
                )
                payload: dict[str, Any] = {
                    "undone": True,
                    "merge_id": merge.pk,
                    "survivor_ref": merge.survivor_ref,
                    "merged_ref": merge.merged_ref,
                }
                text = f"Merge of {merge.merged_ref} into {merge.survivor_ref} undone: {merge.merged_ref} is back with its rows."
            else:
                if len(options["refs"]) != 2:
                    raise CommandError("expected SURVIVOR_REF MERGED_REF (two customer refs)")
                survivor_ref, merged_ref = options["refs"]
                survivor, merged = cli.customer(entity, survivor_ref), cli.customer(entity, merged_ref)
                if merged.external_ref != merged_ref:
                    raise CommandError(f"{merged_ref} was merged into {merged.external_ref} already")
                outcome = customer_merge(survivor=survivor, merged=merged, actor_label=label)
                payload = outcome.as_dict()
                moved = ", ".join(
                    f"{count} {key.split('.')[1]}" for key, count in sorted(outcome.moved.items())
                )
                text = (
                    f"{merged_ref} merged into {survivor.external_ref} (merge {outcome.merge.pk}): "
                    f"{moved or 'no rows'} moved; {merged_ref} is now an alias of {survivor.external_ref}. "
                    f"Undo with: relance quality merge --undo {merged_ref}"
                )
    except RelanceError as exc:
        raise CommandError(exc.message) from None
    command.stdout.write(json.dumps(payload, indent=2) if options["json"] else text)
