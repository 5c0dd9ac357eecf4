"""Bars, the single-asset trading env and its native vectorised twin."""

from quant_assets.lib.trading.bars import Bars, build_time_bars, calibrate_bars, random_walk_bars
from quant_assets.lib.trading.env import TradingEnv, TradingEnvConfig

__all__ = [
    "Bars",
    "TradingEnv",
    "TradingEnvConfig",
    "build_time_bars",
    "calibrate_bars",
    "random_walk_bars",
]
