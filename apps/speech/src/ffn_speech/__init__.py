"""Speech app of the FFN study: MossFormer2-style separation on `ffn_blocks`, with torchaudio."""

from .data import FSDDMixtureDataModule
from .models import ConvTasNet, MossFormer2Separator
from .module import SpeechSeparation

__all__ = ["ConvTasNet", "FSDDMixtureDataModule", "MossFormer2Separator", "SpeechSeparation"]
