"""Forecasting networks ``(B, lookback, C) -> (B, horizon, C)``, built as ``Model(lookback, horizon, C)``."""

from .frets import FreTS
from .patch_tsmixer import PatchTSMixer
from .revin import RevIN
from .tsmixer import TSMixer

__all__ = ["FreTS", "PatchTSMixer", "RevIN", "TSMixer"]
