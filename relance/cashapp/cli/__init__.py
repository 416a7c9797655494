"""The ``relance bank`` subcommands, one module each.

Every module here defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``handle(command, options)``; ``relance bank`` finds them by listing this package, so a new
subcommand (matching's accept, unapply…) is a new file. Keep module-level imports light.
"""
