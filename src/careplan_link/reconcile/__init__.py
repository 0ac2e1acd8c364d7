"""careplan_link.reconcile: the month's 予定 against its 実績, and the 給付管理票 figures.

Sits over `careplan_link.format` only. Everything public here is re-exported from
`careplan_link`.
"""

from __future__ import annotations

from ._corrected import CorrectedPlan, CorrectedUnit, corrected_plan
from ._model import (
    BenefitFigures,
    BenefitLine,
    Difference,
    DifferenceKind,
    LimitCheck,
    Location,
    Reconciliation,
    UnitComparison,
    UnmatchedCause,
    UserKey,
    UserReconciliation,
    Visit,
)
from ._reconcile import reconcile
from ._sources import ReconcileSource

__all__ = [
    "BenefitFigures",
    "BenefitLine",
    "CorrectedPlan",
    "CorrectedUnit",
    "Difference",
    "DifferenceKind",
    "LimitCheck",
    "Location",
    "ReconcileSource",
    "Reconciliation",
    "UnitComparison",
    "UnmatchedCause",
    "UserKey",
    "UserReconciliation",
    "Visit",
    "corrected_plan",
    "reconcile",
]
