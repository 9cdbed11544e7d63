"""Time-series app of the FFN study: TSMixer (Google and IBM's PatchTSMixer) and FreTS on `ffn_blocks`."""

from .data import WideCSVDataModule
from .models import FreTS, PatchTSMixer, TSMixer
from .module import Forecaster

__all__ = ["Forecaster", "FreTS", "PatchTSMixer", "TSMixer", "WideCSVDataModule"]
