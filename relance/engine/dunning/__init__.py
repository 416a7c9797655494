"""The collections engine: policies as data, behaviour classes, and the daily ``decide`` step.

Pure (no Django). ``contract`` holds the input/output schemas the app binds to.

The decision step is ``relance.engine.dunning.decide.decide`` (imported from its module: a
package attribute of the same name as the submodule would be the module once it is loaded).

The names below load on first use (PEP 562): importing ``relance.engine.dunning.policy`` — what
the app needs to validate a policy — must not load Ibis, pandas and the decision step, which cost
about a second of every command's start-up (issue 20).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relance.engine.dunning.contract import (
        DECISION_COLUMNS,
        INVOICE_STEP_COLUMNS,
        SUPPRESSED_COLUMNS,
        WORKLIST_COLUMNS,
        Decisions,
        DunningTables,
    )
    from relance.engine.dunning.policy import (
        CadencePhase,
        CadenceRules,
        Condition,
        Policy,
        Step,
        policy_from_dict,
        policy_to_dict,
    )

_HOMES = {
    "DECISION_COLUMNS": "contract",
    "INVOICE_STEP_COLUMNS": "contract",
    "SUPPRESSED_COLUMNS": "contract",
    "WORKLIST_COLUMNS": "contract",
    "Decisions": "contract",
    "DunningTables": "contract",
    "CadencePhase": "policy",
    "CadenceRules": "policy",
    "Condition": "policy",
    "Policy": "policy",
    "Step": "policy",
    "policy_from_dict": "policy",
    "policy_to_dict": "policy",
}

__all__ = [
    "DECISION_COLUMNS",
    "INVOICE_STEP_COLUMNS",
    "SUPPRESSED_COLUMNS",
    "WORKLIST_COLUMNS",
    "CadencePhase",
    "CadenceRules",
    "Condition",
    "Decisions",
    "DunningTables",
    "Policy",
    "Step",
    "policy_from_dict",
    "policy_to_dict",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
