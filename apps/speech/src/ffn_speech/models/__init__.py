"""Separation networks: the MossFormer2-style separator and the Conv-TasNet baseline."""

from .baseline import ConvTasNet
from .clearvoice import load_clearvoice_state_dict
from .separator import MossFormer2Separator

__all__ = ["ConvTasNet", "MossFormer2Separator", "load_clearvoice_state_dict"]
