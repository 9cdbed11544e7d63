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

from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ffn_blocks import MLP, Dropout, FeedForwardFactory

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
    """One mixing block on ``(B, C, N, d)``: ``x + gate(mlp(norm(x) moved so the mixed axis is last))``.

    ``dims`` is the pair of axes swapped to bring the mixed axis last (None: ``d`` itself). With
    ``norm_axis="d_model"`` (the reference) the norm runs over ``d`` before the swap; with ``"mixed"`` it
    runs over the mixed axis after it. ``gate_first`` puts the gated attention before the MLP (the
    reference's channel mixer) instead of after it.
    """

    def __init__(
        self,
        features: int,
        d_model: int,
        dims: tuple[int, int] | None,
        *,
        ffn: FeedForwardFactory,
        gated: bool,
        norm: Literal["layer", "batch"],
        norm_axis: Literal["d_model", "mixed"],
        expansion_factor: int | None,
        gate_first: bool = False,
    ) -> None:
        super().__init__()
        self.dims, self.norm_after_swap, self.gate_first = dims, norm_axis == "mixed", gate_first
        width = features if self.norm_after_swap else d_model
        self.norm = nn.LayerNorm(width) if norm == "layer" else nn.BatchNorm1d(width)
        if expansion_factor is None:
            self.mlp = ffn(features, features)
        else:
            self.mlp = ffn(features, features, hidden_features=expansion_factor * features)
        self.gate = GatedAttention(features) if gated else nn.Identity()

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.norm, nn.BatchNorm1d):  # statistics over every position, per feature
            return self.norm(x.reshape(-1, x.shape[-1])).view_as(x)
        return self.norm(x)

    def _swap(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.dims is None else x.transpose(*self.dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self._swap(x) if self.norm_after_swap else self._swap(self._normalize(x))
        if self.norm_after_swap:
            h = self._normalize(h)
        h = self.mlp(self.gate(h)) if self.gate_first else self.gate(self.mlp(h))
        return x + self._swap(h)


class MixerLayer(nn.Module):
    """(Hybrid mode) channel mixing, then patch mixing and feature mixing on ``(B, C, N, d)``."""

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
        norm_axis: Literal["d_model", "mixed"] = "d_model",
    ) -> None:
        super().__init__()
        common = dict(ffn=ffn, gated=gated, norm=norm, norm_axis=norm_axis, expansion_factor=expansion_factor)
        self.channel_mixer = (
            _Mixer(num_channels, d_model, (1, 3), gate_first=True, **common) if mix_channels else None
        )
        self.patch_mixer = _Mixer(num_patches, d_model, (2, 3), **common)
        self.feature_mixer = _Mixer(d_model, d_model, None, **common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, N, d)
        if self.channel_mixer is not None:
            x = self.channel_mixer(x)
        return self.feature_mixer(self.patch_mixer(x))


class PatchTSMixer(nn.Module):
    """IBM's patch-based TSMixer.

    Args:
        lookback: input steps L (context length).
        horizon: forecast steps H.
        num_channels: C.
        ffn: factory of every mixing MLP (None: the reference's, a GELU `MLP` with dropout 0.2).
        expansion_factor: hidden width of every mixing block over its input width (reference: 2),
            passed as ``hidden_features``; None leaves the width to the factory (its own
            ``hidden_features`` or the blocks' 4× default).
        patch_length: steps per patch.
        patch_stride: steps between patch starts.
        d_model: patch embedding width.
        num_layers: mixer layers.
        channel_mode: ``"independent"`` (shared weights, no channel mixing) or ``"hybrid"`` (adds the
            channel mixer).
        gated_attention: gated attention after every mixer.
        norm: ``"layer"`` or ``"batch"``.
        norm_axis: ``"d_model"`` (the reference: every mixer normalizes the patch embeddings before
            moving its axis last) or ``"mixed"`` (this repository's first layout: the norm runs over
            the mixed axis, patches or channels, after the move; 96 more parameters per patch mixer
            at 64 patches and d_model 16).
        head_dropout: dropout before the head.
        revin: instance normalization around the network (the reference's ``scaling="std"``: per
            window and channel, statistics not detached).
        revin_affine: learn RevIN's per-channel scale and shift (2·C parameters; the reference has
            none).
        init_std: initialize every linear layer N(0, init_std²) with zero bias, as the reference's
            ``init_std=0.02``; None keeps each module's own initialization.
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
        ffn: FeedForwardFactory | None = None,
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
        expansion_factor: int | None = 2,
        norm_axis: Literal["d_model", "mixed"] = "d_model",
        revin_affine: bool = False,
        init_std: float | None = 0.02,
    ) -> None:
        super().__init__()
        if patch_length > lookback:
            raise ValueError(f"PatchTSMixer: patch_length={patch_length} exceeds lookback={lookback}")
        if reconcile and horizon % aggregation:
            raise ValueError(f"PatchTSMixer: aggregation={aggregation} must divide horizon={horizon}")
        self.lookback, self.horizon, self.num_channels = lookback, horizon, num_channels
        ffn = ffn or partial(MLP, dropout=0.2)
        self.patch_length, self.patch_stride = patch_length, patch_stride
        self.num_patches = (lookback - patch_length) // patch_stride + 1
        # the windows end at the newest step; the (L - P) mod S oldest steps fall out, as the reference's
        self.first_step = lookback - (patch_length + patch_stride * (self.num_patches - 1))
        self.revin = RevIN(num_channels, affine=revin_affine, detach=False) if revin else None
        self.embed = nn.Linear(patch_length, d_model)
        layer = partial(MixerLayer, self.num_patches, d_model, num_channels, ffn=ffn, gated=gated_attention)
        layer = partial(
            layer, norm=norm, mix_channels=channel_mode == "hybrid", expansion_factor=expansion_factor
        )
        self.layers = nn.Sequential(*(layer(norm_axis=norm_axis) for _ in range(num_layers)))
        flat = self.num_patches * d_model
        self.head = nn.Sequential(nn.Flatten(-2), Dropout(head_dropout), nn.Linear(flat, horizon))
        self.aggregation = aggregation
        self.coarse_head = None
        if reconcile:
            coarse = horizon // aggregation
            self.coarse_head = nn.Sequential(nn.Flatten(-2), Dropout(head_dropout), nn.Linear(flat, coarse))
            self.reconciler = nn.Linear(horizon + coarse, horizon)
        self._coarse: torch.Tensor | None = None
        self._initialize(init_std)

    def _initialize(self, init_std: float | None) -> None:
        """Every linear layer from N(0, ``init_std``) with zero biases, as the reference's
        ``PatchTSMixerPreTrainedModel._init_weights`` (None: PyTorch's defaults); the reconciler starts as
        the identity correction (zero)."""
        if init_std is not None:
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.normal_(module.weight, std=init_std)
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)
        if self.coarse_head is not None:
            nn.init.zeros_(self.reconciler.weight)
            nn.init.zeros_(self.reconciler.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stats = None
        if self.revin is not None:
            x, stats = self.revin.normalize(x)
        x = x[:, self.first_step :]
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
