"""The shipped scorecard on golden examples, on every backend; specs with mistakes are refused
with every problem named."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa
import pytest

from relance.core.errors import ValidationFailed
from relance.engine.credit.defaults import default_scorecard, scorecard_from_yaml
from relance.engine.credit.scorecard import (
    FACTOR_KINDS,
    Score,
    scorecard_from_dict,
    scorecard_to_dict,
    scores,
)

FACTORS = list(FACTOR_KINDS)

# customer_id, then the factor values in FACTORS' order (None: unknown).
ROWS: dict[str, tuple[Any, ...]] = {
    # pays early for five years, good bureau report: -5 points, kept at 0
    "prompt": (0, -6, 5, 0, 0, 40, 60, 0, 85, 0, 80),
    # nothing known yet: every factor's "missing" points (10 + 5 + 3 + 8 + 5)
    "new": (None,) * len(FACTORS),
    # on each band's upper bound (inclusive): 8 + 5 + 3 + 4 + 6
    "bounds": (7, 5, 10, 1, 0, 80, 24, 0, 60, 0, 100),
    # late on everything: 155 points, kept at 100
    "late": (50, 20, 75, 4, 3, 120, 30, 2, 15, 2, 200),
}
EXPECTED = {"prompt": (0, "A"), "new": (31, "C"), "bounds": (26, "B"), "late": (100, "E")}


def factor_table() -> pa.Table:
    names = list(ROWS)
    columns: dict[str, Any] = {"customer_id": pa.array(range(len(names)), pa.int64())}
    for position, key in enumerate(FACTORS):
        columns[key] = pa.array([ROWS[name][position] for name in names], pa.float64())
    return pa.table(columns)


@pytest.fixture
def scored(backend) -> dict[str, Score]:
    results = scores(
        default_scorecard(), ibis.memtable(factor_table()), order_by=["customer_id"], backend=backend.con
    )
    return dict(zip(ROWS, results, strict=True))


def test_the_shipped_scorecard_scores_the_golden_examples(scored) -> None:
    assert {name: (score.score, score.risk_class) for name, score in scored.items()} == EXPECTED


def test_every_score_is_the_sum_of_its_points_kept_within_0_and_100(scored) -> None:
    for score in scored.values():
        assert score.score == max(0, min(100, sum(reason.points for reason in score.reasons)))
        assert [reason.factor for reason in score.reasons] == FACTORS


def test_each_reason_says_why_in_words_with_the_value(scored) -> None:
    bounds = {reason.factor: reason for reason in scored["bounds"].reasons}
    assert bounds["days_beyond_terms"].text == "pays 7 days beyond terms on average"
    assert (bounds["days_beyond_terms"].points, bounds["days_beyond_terms"].value) == (8, Decimal(7))
    assert bounds["late_share"].text == "10 % of invoices paid late"
    assert bounds["utilisation"].text == "uses 80 % of its credit limit"
    assert bounds["broken_promises"].text == "one broken promise"
    new = {reason.factor: reason.text for reason in scored["new"].reasons}
    assert new["bureau_score"] == "no bureau report"
    assert new["days_beyond_terms"] == "no invoice settled in the last 12 months"
    late = {reason.factor: reason.text for reason in scored["late"].reasons}
    assert late["utilisation"] == "over its credit limit (120 % used)"
    assert late["derogatory_events"] == "2 derogatory events in the bureau report"


def test_the_scorecard_round_trips_through_its_dict_form() -> None:
    card = default_scorecard()
    assert scorecard_from_dict(scorecard_to_dict(card)) == card


def test_a_scorecard_with_mistakes_names_every_one() -> None:
    spec = scorecard_to_dict(default_scorecard())
    spec["classes"] = {"A": 30, "B": 20, "C": 45, "D": 65}
    spec["factors"][0]["bands"][1]["upto"] = -3  # below the previous band's 0
    spec["factors"][1]["key"] = "shoe_size"
    spec["factors"][2]["bands"][-1]["upto"] = 90  # the last band has no bound
    spec["factors"][3]["missing"] = {"points": 250, "reason": ""}
    spec["factors"][4]["colour"] = "red"
    with pytest.raises(ValidationFailed) as refused:
        scorecard_from_dict(spec)
    message = refused.value.message
    assert message.startswith("scorecard standard: ")
    for expected in (
        "factors[0].bands[1].upto: expected more than the previous band's (0), found Decimal('-3')",
        "factors[1].key: expected one of days_beyond_terms, ",
        "factors[2].bands[3].upto: expected no bound on the last band",
        "factors[3].missing.points: expected between -100 and 100, found 250",
        "factors[3].missing.reason: expected a sentence saying why",
        "factors[4].colour: expected one of bands, key, missing, found 'an unknown key'",
        "scorecard.classes: expected increasing bounds from 0 to below 100",
    ):
        assert expected in message


def test_a_yaml_error_names_the_file_and_line() -> None:
    with pytest.raises(ValidationFailed, match=r"^mine\.yaml:3: not valid YAML"):
        scorecard_from_yaml("key: mine\nname: one\n  factors: two\n", source="mine.yaml")


def test_a_factor_table_without_a_scorecard_factor_is_refused() -> None:
    table = ibis.memtable(factor_table().drop_columns(["bureau_score"]))
    with pytest.raises(ValidationFailed, match="the factor table has no column bureau_score"):
        scores(default_scorecard(), table)
