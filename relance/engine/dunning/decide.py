"""``decide``: the daily decision step (see ``contract``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from ibis.backends import BaseBackend

from relance.engine.dunning.contract import Decisions, DunningTables
from relance.engine.dunning.policy import Policy


def decide(
    tables: DunningTables,
    policies: Mapping[str, Policy],
    *,
    as_of: date,
    backend: BaseBackend | None = None,
) -> Decisions:
    """Every action due on ``as_of``, with reasons; see ``contract`` for the columns."""
    raise NotImplementedError("decide() lands in the next engine commit; bind to the contract now")
