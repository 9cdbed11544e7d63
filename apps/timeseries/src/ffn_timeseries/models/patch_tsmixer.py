"""PatchTSMixer (IBM, KDD 2023): patches, mixer layers over patches / features / channels, gated attention.

From "TSMixer: Lightweight MLP-Mixer Model for Multivariate Time Series Forecasting" (Ekambaram et al.,
KDD 2023, https://arxiv.org/abs/2306.09364), released as PatchTSMixer. Each channel's window is cut into
patches (length ``patch_length``, stride ``patch_stride``) and embedded to ``d_model``; mixer layers then
mix across patches (``ffn(N, N)``), across the hidden features (``ffn(d, d)``) and, in ``"hybrid"``
channel mode, across channels (``ffn(C, C)``), each behind a norm and a residual and followed by gated
attention (``x ⊙ softmax(W x)``). Channels share all weights ("channel-independent") unless the channel
mixer is on. The head flattens the patch embeddings of each channel and maps them to the horizon.

The optional reconciliation head (``reconcile=True``) adds the paper's hierarchical patch
reconciliation: a second head forecasts the horizon aggregated over ``aggregation`` steps (means of
consecutive steps), the fine forecast is corrected from it by a learned linear map, and training adds
the coarse forecast's error against the aggregated truth (`target_loss`, which the LightningModule adds
for any network that defines it).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ffn_blocks import MLP, FeedForwardFactory

from .revin import RevIN

__all__ = ["PatchTSMixer"]


class GatedAttention(nn.Module):
    """``x ⊙ softmax(W x)`` over the last dimension (the paper's simple gated attention)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.gate = nn.Linear(features, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * F.softmax(self.gate(x), dim=-1)


class _Mixer(nn.Module):
    """norm → ffn over the last dimension → gated attention, plus residual."""

    def __init__(
        self,
        features: int,
        ffn: FeedForwardFactory,
        gated: bool,
        norm: Literal["layer", "batch"],
        expansion_factor: int | None,
    ) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(features) if norm == "layer" else nn.BatchNorm1d(features)
        if expansion_factor is None:
            self.mlp = ffn(features, features)
        else:
            self.mlp = ffn(features, features, hidden_features=expansion_factor * features)
        self.gate = GatedAttention(features) if gated else nn.Identity()

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.norm, nn.BatchNorm1d):
            return self.norm(x.reshape(-1, x.shape[-1])).view_as(x)
        return self.norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gate(self.mlp(self._normalize(x)))


class MixerLayer(nn.Module):
    """Patch mixing, feature mixing and (hybrid mode) channel mixing on ``(B, C, N, d)``."""

    def __init__(
        self,
        num_patches: int,
        d_model: int,
        num_channels: int,
        *,
        ffn: FeedForwardFactory,
        gated: bool,
        norm: Literal["layer", "batch"],
        mix_channels: bool,
        expansion_factor: int | None = None,
    ) -> None:
        super().__init__()
        self.patch_mixer = _Mixer(num_patches, ffn, gated, norm, expansion_factor)
        self.feature_mixer = _Mixer(d_model, ffn, gated, norm, expansion_factor)
        self.channel_mixer = (
            _Mixer(num_channels, ffn, gated, norm, expansion_factor) if mix_channels else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, N, d)
        x = self.patch_mixer(x.transpose(-1, -2)).transpose(-1, -2)
        x = self.feature_mixer(x)
        if self.channel_mixer is not None:
            x = self.channel_mixer(x.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)
        return x


class PatchTSMixer(nn.Module):
    """IBM's patch-based TSMixer.

    Args:
        lookback: input steps L (context length).
        horizon: forecast steps H.
        num_channels: C.
        ffn: factory of every mixing MLP (paper: MLP with expansion 2, GELU, dropout).
        expansion_factor: hidden width of every mixing block over its input width (paper: 2), passed
            as ``hidden_features``; None leaves the width to the factory (its own ``hidden_features``
            or the blocks' 4× default).
        patch_length: steps per patch.
        patch_stride: steps between patch starts.
        d_model: patch embedding width.
        num_layers: mixer layers.
        channel_mode: ``"independent"`` (shared weights, no channel mixing) or ``"hybrid"`` (adds the
            channel mixer).
        gated_attention: gated attention after every mixer.
        norm: ``"layer"`` or ``"batch"``.
        head_dropout: dropout before the head.
        revin: reversible instance normalization around the network.
        reconcile: add the hierarchical reconciliation head.
        aggregation: steps per coarse step of the reconciliation head (must divide ``horizon``).

    Shape:
        - Input: ``(B, L, C)``
        - Output: ``(B, H, C)``
    """

    def __init__(
        self,
        lookback: int,
        horizon: int,
        num_channels: int,
        *,
        ffn: FeedForwardFactory = MLP,
        patch_length: int = 8,
        patch_stride: int = 8,
        d_model: int = 16,
        num_layers: int = 8,
        channel_mode: Literal["independent", "hybrid"] = "independent",
        gated_attention: bool = True,
        norm: Literal["layer", "batch"] = "layer",
        head_dropout: float = 0.2,
        revin: bool = True,
        reconcile: bool = False,
        aggregation: int = 4,
        expansion_factor: int | None = None,
    ) -> None:
        super().__init__()
        if patch_length > lookback:
            raise ValueError(f"PatchTSMixer: patch_length={patch_length} exceeds lookback={lookback}")
        if reconcile and horizon % aggregation:
            raise ValueError(f"PatchTSMixer: aggregation={aggregation} must divide horizon={horizon}")
        self.lookback, self.horizon, self.num_channels = lookback, horizon, num_channels
        self.patch_length, self.patch_stride = patch_length, patch_stride
        self.num_patches = (lookback - patch_length) // patch_stride + 1
        self.revin = RevIN(num_channels) if revin else None
        self.embed = nn.Linear(patch_length, d_model)
        self.layers = nn.Sequential(
            *(
                MixerLayer(
                    self.num_patches,
                    d_model,
                    num_channels,
                    ffn=ffn,
                    gated=gated_attention,
                    norm=norm,
                    mix_channels=channel_mode == "hybrid",
                    expansion_factor=expansion_factor,
                )
                for _ in range(num_layers)
            )
        )
        flat = self.num_patches * d_model
        self.head = nn.Sequential(nn.Flatten(-2), nn.Dropout(head_dropout), nn.Linear(flat, horizon))
        self.aggregation = aggregation
        if reconcile:
            coarse = horizon // aggregation
            self.coarse_head = nn.Sequential(
                nn.Flatten(-2), nn.Dropout(head_dropout), nn.Linear(flat, coarse)
            )
            self.reconciler = nn.Linear(horizon + coarse, horizon)
            nn.init.zeros_(self.reconciler.weight)
            nn.init.zeros_(self.reconciler.bias)
        else:
            self.coarse_head = None
        self._coarse: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stats = None
        if self.revin is not None:
            x, stats = self.revin.normalize(x)
        patches = x.transpose(1, 2).unfold(-1, self.patch_length, self.patch_stride)  # (B, C, N, P)
        h = self.layers(self.embed(patches))
        y = self.head(h)  # (B, C, H)
        if self.coarse_head is not None:
            coarse = self.coarse_head(h)  # (B, C, H / a)
            y = y + self.reconciler(torch.cat([y, coarse], dim=-1))
            coarse = coarse.transpose(1, 2)
            self._coarse = self.revin.denormalize(coarse, stats) if self.revin is not None else coarse
        y = y.transpose(1, 2)
        return self.revin.denormalize(y, stats) if self.revin is not None else y

    def target_loss(self, target: torch.Tensor) -> torch.Tensor:
        """MSE of the last forward's coarse forecast against ``target`` aggregated over ``aggregation``."""
        if self._coarse is None:
            return target.new_zeros(())
        aggregated = target.unflatten(1, (-1, self.aggregation)).mean(2)
        return F.mse_loss(self._coarse, aggregated)
