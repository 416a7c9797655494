"""The ``relance credit`` subcommands, one module each.

Every module here defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``handle(command, options)``; ``relance credit`` finds them by listing this package, so a new
subcommand is a new file. Keep module-level imports light (Django models at most): the heavy
ones (engine, Ibis) belong inside ``handle``.
"""
