"""``relance quality …``: duplicate customers and merges, contact checks and the quality report."""

from __future__ import annotations

from relance.common.subcommands import SubcommandsCommand


class Command(SubcommandsCommand):
    help = "Customer data quality: duplicate customers and merges, contact checks and the quality report."
    subcommand_package = "relance.quality.cli"
