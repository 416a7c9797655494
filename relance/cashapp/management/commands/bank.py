"""``relance bank …``: bank accounts, statement imports and bank lines (issue 17)."""

from __future__ import annotations

from relance.common.subcommands import SubcommandsCommand


class Command(SubcommandsCommand):
    help = (
        "Cash application: link the entity's bank accounts, import their statements (camt.053, "
        "camt.054, MT940, CSV/XLSX; all or nothing, idempotent) and list the bank lines."
    )
    subcommand_package = "relance.cashapp.cli"
