"""The shipped scorecards (YAML files beside this module)."""

from __future__ import annotations

from pathlib import Path

import yaml

from relance.core.errors import ValidationFailed
from relance.engine.credit.scorecard import Scorecard, scorecard_from_dict

SCORECARD_DIRECTORY = Path(__file__).with_name("scorecards")
DEFAULT_SCORECARD_KEY = "standard"


def scorecard_from_yaml(text: str, *, source: str = "<text>") -> Scorecard:
    """A validated scorecard from YAML text; a YAML error names ``source`` and its line."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ValidationFailed(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return scorecard_from_dict(data)


def default_scorecard() -> Scorecard:
    path = SCORECARD_DIRECTORY / f"{DEFAULT_SCORECARD_KEY}.yaml"
    return scorecard_from_yaml(path.read_text("utf-8"), source=path.name)
