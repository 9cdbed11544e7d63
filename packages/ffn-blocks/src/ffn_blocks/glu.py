"""Gated linear unit feed-forward blocks: `GLU`, `SwiGLU`, `GeGLU`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .base import FeedForward, build_norm, check_ratio
from .dropout import Dropout

__all__ = ["GLU", "GeGLU", "SwiGLU"]


class GLU(FeedForward):
    """Gated feed-forward block ``y = W₂ (gate_act(W_g x) ⊙ W_u x)``.

    From "GLU Variants Improve Transformer" (Shazeer, 2020, https://arxiv.org/abs/2002.05202), after
    "Language Modeling with Gated Convolutional Networks" (Dauphin et al., 2017). The value and gate
    projections are one fused ``in → 2·hidden`` matmul. At equal ``hidden_features`` a GLU holds 1.5×
    the parameters of an `MLP`; pass ``hidden_features = 8 * in_features // 3`` to match them.

    The gate is ``gate_act``, not ``act``: a keyword shared by several blocks keeps its value when a
    user switches ``class_path`` on the command line, so `MLP`'s GELU must not leak into the gate.
    `SwiGLU` and `GeGLU` fix the gate by their name and take no gate argument.

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        hidden_features: width of the gated product (default ``4 * in_features``).
        gate_act: gate activation factory (sigmoid for the original GLU).
        bias: learn additive biases.
        dropout: dropout probability after the gated product and after the output layer.
        norm: optional normalization factory applied to the input, called with ``in_features``.

    Shape:
        - Input: ``(*, in_features)``
        - Output: ``(*, out_features)``
    """

    spectral_taps = ("fc1", "fc2")
    output_layer = "fc2"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden_features: int | None = None,
        gate_act: Callable[[], nn.Module] = nn.Sigmoid,
        bias: bool = True,
        dropout: float = 0.0,
        norm: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__(in_features, out_features, hidden_features)
        check_ratio(type(self).__name__, "dropout", dropout)
        self.norm = build_norm(norm, in_features)
        self.fc1 = nn.Linear(in_features, 2 * self.hidden_features, bias=bias)  # [value; gate]
        self.act = gate_act()
        self.drop1 = Dropout(dropout)
        self.fc2 = nn.Linear(self.hidden_features, out_features, bias=bias)
        self.drop2 = Dropout(dropout)
        self.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        value, gate = self.fc1(self.norm(x)).chunk(2, dim=-1)
        return self.drop2(self.fc2(self.drop1(value * self.act(gate))))


class SwiGLU(GLU):
    """`GLU` with a SiLU (Swish) gate, as in PaLM and LLaMA (Shazeer, 2020). Arguments as `GLU`, no gate."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden_features: int | None = None,
        bias: bool = True,
        dropout: float = 0.0,
        norm: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__(
            in_features,
            out_features,
            hidden_features=hidden_features,
            gate_act=nn.SiLU,
            bias=bias,
            dropout=dropout,
            norm=norm,
        )


class GeGLU(GLU):
    """`GLU` with a GELU gate (Shazeer, 2020). Arguments as `GLU`, no gate."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        hidden_features: int | None = None,
        bias: bool = True,
        dropout: float = 0.0,
        norm: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__(
            in_features,
            out_features,
            hidden_features=hidden_features,
            gate_act=nn.GELU,
            bias=bias,
            dropout=dropout,
            norm=norm,
        )
