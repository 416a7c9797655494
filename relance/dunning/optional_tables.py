"""Optional tables of the dunning contract that apps above dunning hand down at start-up.

The owner registers a maker (entity id → the Ibis table) in its ``ready()``; the dunning binding
reads them when it binds the tables. Kept apart from ``relance.dunning.binding`` so that
registering loads neither Ibis nor the binding at every start of every command (issue 20;
tests/test_cli.py checks by ``sys.modules``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

OPTIONAL_REGISTRABLE = ("invoice_predictions",)
# name of an optional contract table → its maker (entity id → the table), registered at start-up
# by the app that owns the rows (it sits above dunning: it hands the table down, never imported).
OPTIONAL_MAKERS: dict[str, Callable[[int], ir.Table]] = {}


def optional_table_register(name: str, maker: Callable[[int], ir.Table]) -> None:
    """Register ``maker(entity_id)`` as the optional contract table ``name`` (an app's ``ready``)."""
    if name not in OPTIONAL_REGISTRABLE:
        raise ValueError(f"{name!r} is not an optional table of the dunning contract")
    OPTIONAL_MAKERS[name] = maker
