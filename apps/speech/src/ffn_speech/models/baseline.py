"""`ConvTasNet`: torchaudio's Conv-TasNet behind the separator interface, the baseline of the benchmark."""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

__all__ = ["ConvTasNet"]


class ConvTasNet(nn.Module):
    """``torchaudio.models.ConvTasNet`` taking ``(B, L)`` and returning ``(B, S, L)``.

    From "Conv-TasNet: Surpassing Ideal Time-Frequency Magnitude Masking for Speech Separation" (Luo &
    Mesgarani, 2019). Arguments are torchaudio's; the defaults here are a small model for CPU budgets.
    """

    def __init__(
        self,
        num_speakers: int = 2,
        *,
        enc_kernel_size: int = 16,
        enc_num_feats: int = 64,
        msk_kernel_size: int = 3,
        msk_num_feats: int = 64,
        msk_num_hidden_feats: int = 128,
        msk_num_layers: int = 4,
        msk_num_stacks: int = 2,
    ) -> None:
        super().__init__()
        self.net = torchaudio.models.ConvTasNet(
            num_sources=num_speakers,
            enc_kernel_size=enc_kernel_size,
            enc_num_feats=enc_num_feats,
            msk_kernel_size=msk_kernel_size,
            msk_num_feats=msk_num_feats,
            msk_num_hidden_feats=msk_num_hidden_feats,
            msk_num_layers=msk_num_layers,
            msk_num_stacks=msk_num_stacks,
        )

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        return self.net(mixture[:, None])[..., : mixture.shape[-1]]
