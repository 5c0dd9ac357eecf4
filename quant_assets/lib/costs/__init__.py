"""Transaction-cost engine: config, vectorised costs by component, per-symbol calibration."""

from quant_assets.lib.costs.calibration import (
    CalibratedParams,
    CalibrationError,
    FieldProvenance,
    calibrate,
)
from quant_assets.lib.costs.config import CostModelConfig
from quant_assets.lib.costs.engine import (
    COMPONENTS,
    CostBreakdown,
    CostCoefficients,
    apply_costs,
    compute_costs,
    cost_coefficients,
)

__all__ = [
    "COMPONENTS",
    "CalibratedParams",
    "CalibrationError",
    "CostBreakdown",
    "CostCoefficients",
    "CostModelConfig",
    "FieldProvenance",
    "apply_costs",
    "calibrate",
    "compute_costs",
    "cost_coefficients",
]
