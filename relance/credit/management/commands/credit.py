"""``relance credit …``: scores, reviews, bureau reports and the backtest (issue 15)."""

from __future__ import annotations

from relance.common.subcommands import SubcommandsCommand


class Command(SubcommandsCommand):
    help = (
        "Credit management: risk scores with their reasons, reviews and their decisions, bureau "
        "reports and the scorecard's backtest."
    )
    subcommand_package = "relance.credit.cli"
