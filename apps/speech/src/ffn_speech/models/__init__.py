"""Separation networks: the MossFormer2-style separator and the Conv-TasNet baseline."""

from .baseline import ConvTasNet
from .separator import MossFormer2Separator

__all__ = ["ConvTasNet", "MossFormer2Separator"]
