"""``relance predict`` subcommands, one module each (``NAME``, ``HELP``, ``add_arguments``,
``handle``), as ``relance.common.subcommands`` lists them: ``relance predict backtest`` lives here."""
