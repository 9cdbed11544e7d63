"""`MLP`: the Transformer feed-forward block, and the two-layer skeleton the structured FFNs reuse."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .base import FeedForward, build_norm, check_ratio
from .dropout import Dropout

__all__ = ["MLP"]


class TwoLayerFeedForward(FeedForward):
    """``norm → linear → act → dropout → linear → dropout`` with the linear layers built by factories.

    The shared skeleton of `MLP` (``linear=nn.Linear``) and the structured FFNs (low-rank, block-dense,
    block-shuffle linears). Not a public block: its ``linear`` arguments are what the public blocks fix.
    ``output_linear`` builds the second layer (default: ``linear``).
    """

    spectral_taps = ("fc1", "fc2")
    output_layer = "fc2"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden_features: int | None,
        act: Callable[[], nn.Module],
        bias: bool,
        dropout: float,
        norm: Callable[[int], nn.Module] | None,
        linear: Callable[..., nn.Module],
        output_linear: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__(in_features, out_features, hidden_features)
        check_ratio(type(self).__name__, "dropout", dropout)
        self.norm = build_norm(norm, in_features)
        self.fc1 = linear(in_features, self.hidden_features, bias=bias)
        self.act = act()
        self.drop1 = Dropout(dropout)
        self.fc2 = (output_linear or linear)(self.hidden_features, out_features, bias=bias)
        self.drop2 = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(self.norm(x))))))


class MLP(TwoLayerFeedForward):
    """Two-layer perceptron, the feed-forward block of the Transformer.

    ``y = W₂ act(W₁ norm(x) + b₁) + b₂``, from "Attention Is All You Need" (Vaswani et al., 2017,
    https://arxiv.org/abs/1706.03762); the same layout as timm's ``Mlp`` with an optional pre-norm.

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        hidden_features: hidden width (default ``4 * in_features``).
        act: activation factory, called with no arguments.
        bias: learn additive biases in both linear layers.
        dropout: dropout probability after the activation and after the output layer.
        norm: optional normalization factory applied to the input, called with ``in_features``.

    Shape:
        - Input: ``(*, in_features)``
        - Output: ``(*, out_features)``

    Example:
        >>> block = MLP(64, 64, hidden_features=256)
        >>> block(torch.randn(2, 10, 64)).shape
        torch.Size([2, 10, 64])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden_features: int | None = None,
        act: Callable[[], nn.Module] = nn.GELU,
        bias: bool = True,
        dropout: float = 0.0,
        norm: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__(
            in_features,
            out_features,
            hidden_features=hidden_features,
            act=act,
            bias=bias,
            dropout=dropout,
            norm=norm,
            linear=nn.Linear,
        )
        self.reset_parameters()
