"""``relance quality`` subcommands, one module each (``relance.common.subcommands``)."""
