"""The collections engine: policies as data, behaviour classes, and the daily ``decide`` step.

Pure (no Django). ``contract`` holds the input/output schemas the app binds to.
"""

from relance.engine.dunning.contract import (
    DECISION_COLUMNS,
    INVOICE_STEP_COLUMNS,
    SUPPRESSED_COLUMNS,
    WORKLIST_COLUMNS,
    Decisions,
    DunningTables,
)
from relance.engine.dunning.decide import decide
from relance.engine.dunning.policy import (
    CadencePhase,
    CadenceRules,
    Condition,
    Policy,
    Step,
    policy_from_dict,
    policy_to_dict,
)

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
    "decide",
    "policy_from_dict",
    "policy_to_dict",
]
