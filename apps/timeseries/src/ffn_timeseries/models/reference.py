"""Hugging Face's ``PatchTSMixerForPrediction`` behind our ``(lookback, horizon, channels)`` interface.

Only the side-by-side benchmark uses it (``ffn-timeseries bench --reference``); ``transformers`` is in
the optional ``bench`` dependency group (``uv sync --group bench``), never in the default install.
Arguments mirror `PatchTSMixer`'s so the two are configured alike.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = ["HFPatchTSMixer"]


class HFPatchTSMixer(nn.Module):
    """``transformers.PatchTSMixerForPrediction``: ``(B, L, C)`` → ``(B, H, C)``.

    Args:
        lookback: context length L.
        horizon: prediction length H.
        num_channels: input channels C.
        patch_length: steps per patch.
        patch_stride: steps between patch starts.
        d_model: patch embedding width.
        num_layers: mixer layers.
        expansion_factor: MLP hidden width over its input width.
        dropout: dropout inside the mixers.
        head_dropout: dropout before the head.
        mode: ``"common_channel"`` (channel-independent) or ``"mix_channel"`` (hybrid).
        gated_attention: gated attention after every mixer.
        norm: ``"LayerNorm"`` or ``"BatchNorm"``.
        scaling: ``"std"`` (instance normalization, like RevIN), ``"mean"`` or None.
    """

    def __init__(
        self,
        lookback: int,
        horizon: int,
        num_channels: int,
        *,
        patch_length: int = 8,
        patch_stride: int = 8,
        d_model: int = 16,
        num_layers: int = 8,
        expansion_factor: int = 2,
        dropout: float = 0.2,
        head_dropout: float = 0.2,
        mode: Literal["common_channel", "mix_channel"] = "common_channel",
        gated_attention: bool = True,
        norm: Literal["LayerNorm", "BatchNorm"] = "LayerNorm",
        scaling: Literal["std", "mean"] | None = "std",
    ) -> None:
        super().__init__()
        try:
            from transformers import PatchTSMixerConfig, PatchTSMixerForPrediction
        except ImportError as error:  # pragma: no cover - depends on the optional group
            raise ImportError(
                "HFPatchTSMixer needs the optional `transformers`: uv sync --group bench"
            ) from error
        config = PatchTSMixerConfig(
            context_length=lookback,
            prediction_length=horizon,
            num_input_channels=num_channels,
            patch_length=patch_length,
            patch_stride=patch_stride,
            d_model=d_model,
            num_layers=num_layers,
            expansion_factor=expansion_factor,
            dropout=dropout,
            head_dropout=head_dropout,
            mode=mode,
            gated_attn=gated_attention,
            norm_mlp=norm,
            scaling=scaling,
            self_attn=False,
        )
        self.model = PatchTSMixerForPrediction(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(past_values=x).prediction_outputs
