"""``make_life``: the harness's ``Life`` on each backend of the ``backend`` fixture."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from relance.engine.dunning import Policy
from tests.engine.dunning.harness import Life
from tests.engine.dunning.rows import DunningRows

MakeLife = Callable[..., Life]


@pytest.fixture
def make_life(backend: Any) -> MakeLife:
    """``Life(rows, policies, run_zone=...)`` on this test's backend (one database per test).

    On Spark, ``Life.days`` runs only the days around the expected decisions (seconds a run).
    """

    def make(rows: DunningRows, policies: Mapping[str, Policy] | None = None, **options: Any) -> Life:
        options.setdefault("every_day", backend.backend_name != "spark")
        return Life(rows, policies, backend.con, **options)

    return make
