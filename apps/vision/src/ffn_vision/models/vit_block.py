"""`FFNBlock`: timm's ViT block with an injected `ffn_blocks` FFN, its own FFN pre-norm, in-place merging."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from timm.layers import LayerScale
from timm.models.vision_transformer import Block
from torch import nn

from ffn_blocks import FeedForwardFactory, RePaMLP, reparameterize
from ffn_blocks.repa import merge_residual

__all__ = ["FFNBlock"]


def _ffn_as_timm_mlp(
    in_features: int,
    hidden_features: int | None = None,
    act_layer: Any = None,
    norm_layer: Any = None,
    bias: bool = True,
    drop: float = 0.0,
    device: Any = None,
    dtype: Any = None,
    *,
    ffn: FeedForwardFactory,
) -> nn.Module:
    """timm builds its MLP with keyword widths; ours takes ``(in, out)`` and owns its hidden width."""
    return ffn(in_features, in_features)


class FFNBlock(Block):
    """A timm ViT `Block` whose MLP is ``ffn(dim, dim)`` and whose FFN pre-norm is ``ffn_norm``.

    Attention keeps timm's LayerNorm; only the FFN's pre-norm is replaced (RePaViT uses BatchNorm there,
    so that it folds into the merged weights). `reparameterize` merges the whole FFN sublayer
    ``x + drop_path(ls2(ffn(norm2(x))))`` in place when ``ffn`` is a `RePaMLP`; for any other block it
    reparameterizes inside the FFN only.

    Args:
        ffn: the feed-forward factory, called as ``ffn(dim, dim)``.
        ffn_norm: pre-norm factory of the FFN sublayer (None keeps timm's ``norm_layer``).
        **block_kwargs: everything timm's `Block` takes (``dim``, ``num_heads``, ``init_values``, ...);
            ``mlp_ratio``, ``act_layer`` and ``mlp_layer`` are ignored: the FFN block owns its widths.
    """

    def __init__(
        self,
        *,
        ffn: FeedForwardFactory,
        ffn_norm: Callable[[int], nn.Module] | None = None,
        **block_kwargs: Any,
    ) -> None:
        block_kwargs["mlp_layer"] = partial(_ffn_as_timm_mlp, ffn=ffn)
        super().__init__(**block_kwargs)
        if ffn_norm is not None:
            self.norm2 = ffn_norm(block_kwargs["dim"])
        self.ffn_merged = False

    def forward(
        self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, is_causal: bool = False
    ) -> torch.Tensor:
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x), attn_mask=attn_mask, is_causal=is_causal)))
        if self.ffn_merged:  # the merged FFN already contains norm2, ls2 and the shortcut
            return self.mlp(x)
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Merge in place (eval-mode equivalent); returns None, timm's convention for in-place merging."""
        if self.ffn_merged:
            return
        if isinstance(self.mlp, RePaMLP):
            gamma = self.ls2.gamma if isinstance(self.ls2, LayerScale) else None
            self.mlp = merge_residual(self.mlp.eval(), norm=self.norm2.eval(), layer_scale=gamma)
            self.norm2, self.ls2, self.drop_path2 = nn.Identity(), nn.Identity(), nn.Identity()
            self.ffn_merged = True
        else:
            self.mlp = reparameterize(self.mlp, inplace=True)
