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

    ``Life.days`` walks every day on DuckDB (in process, the fastest) and, on the other backends,
    only the days around the expected decisions: a day that decides nothing records nothing, so
    the days left out change nothing on the others, and DuckDB's walk proves those days quiet for
    the same SQL. (Every day on every backend took about 5 of the suite's minutes.)
    """

    def make(rows: DunningRows, policies: Mapping[str, Policy] | None = None, **options: Any) -> Life:
        options.setdefault("every_day", backend.backend_name == "duckdb")
        return Life(rows, policies, backend.con, **options)

    return make
