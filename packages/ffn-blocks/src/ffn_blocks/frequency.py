"""`FrequencyMLP`: an MLP applied in the frequency domain of a sequence axis (FreTS).

From "Frequency-domain MLPs are More Effective Learners in Time Series Forecasting" (Yi et al., NeurIPS
2023, https://arxiv.org/abs/2311.06184). The sequence axis (second to last) goes through ``rfft``; every
frequency component, a complex vector over the features, passes through complex linear maps
``Y = σ(X W + B)`` with ``W = W_r + i W_i`` acting on the real and imaginary parts
(``Re Y = Re X W_r − Im X W_i + B_r``, ``Im Y = Im X W_r + Re X W_i + B_i``), a soft-shrink keeps the
spectrum sparse, and ``irfft`` returns to the sequence domain with the input's length. A linear map on
the spectrum is a (circular) convolution along the sequence: each output step sees every input step.

What this implements, and where it departs from the released FreTS code on purpose:

- The full complex weight matrices. The released code's ``einsum('bijd,dd->bijd', x, w)`` keeps only
  the diagonal of each weight matrix, so no two features ever mix; here every entry of W counts.
- ``layers=1`` is FreTS's stage, one complex layer ``σ(XW + B)`` (the official ``FreMLP``);
  ``layers=2`` (the default) is the shape every block of this library has, two complex layers
  (``in → hidden → out``) with the activation between.
- Soft-shrink with threshold ``sparsity_threshold`` (FreTS: 0.01) on real and imaginary parts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .base import FeedForward, build_norm, check_ratio
from .dropout import Dropout

__all__ = ["ComplexLinear", "FrequencyMLP"]


class ComplexLinear(nn.Module):
    """``Y = X W + B`` for complex ``X``; ``W = W_r + i W_i`` and ``B = B_r + i B_i`` held as real pairs.

    Shape:
        - Input: ``(*, in_features)`` complex
        - Output: ``(*, out_features)`` complex
    """

    def __init__(
        self, in_features: int, out_features: int, *, bias: bool = True, init_std: float | None = None
    ) -> None:
        super().__init__()
        self.in_features, self.out_features, self.init_std = in_features, out_features, init_std
        self.weight_real = nn.Parameter(torch.empty(out_features, in_features))
        self.weight_imag = nn.Parameter(torch.empty(out_features, in_features))
        self.bias_real = nn.Parameter(torch.empty(out_features)) if bias else None
        self.bias_imag = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        parameters = [
            p for p in (self.weight_real, self.weight_imag, self.bias_real, self.bias_imag) if p is not None
        ]
        if self.init_std is not None:  # FreTS's `scale * randn` for weights and biases
            for parameter in parameters:
                nn.init.normal_(parameter, std=self.init_std)
            return
        # |w|² = w_r² + w_i² has the variance of one real nn.Linear default weight
        bound = 1.0 / math.sqrt(2.0 * self.in_features)
        for parameter in parameters:
            nn.init.uniform_(parameter, -bound, bound)

    def forward(self, real: torch.Tensor, imag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out_real = F.linear(real, self.weight_real) - F.linear(imag, self.weight_imag)
        out_imag = F.linear(imag, self.weight_real) + F.linear(real, self.weight_imag)
        if self.bias_real is not None:
            out_real, out_imag = out_real + self.bias_real, out_imag + self.bias_imag
        return out_real, out_imag

    def extra_repr(self) -> str:
        bias = self.bias_real is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"


class FrequencyMLP(FeedForward):
    """Complex MLP on the ``rfft`` of the second-to-last axis: ``(*, T, in) → (*, T, out)``.

    Args:
        in_features: size of the input's last dimension (features).
        out_features: size of the output's last dimension.
        hidden_features: hidden width of the two-layer form (default ``4 * in_features``); a
            one-layer block has none.
        act: activation applied to the real and imaginary parts separately (FreTS: ReLU); after
            the hidden layer (``layers=2``) or after the only one (``layers=1``).
        layers: complex layers, 1 (FreTS's stage: ``softshrink(σ(XW + B))``) or 2 (default:
            ``softshrink(σ(XW₁ + B₁)W₂ + B₂)``).
        bias: learn complex biases.
        dropout: dropout probability on the output (sequence domain).
        norm: optional normalization factory applied to the input (sequence domain).
        sparsity_threshold: soft-shrink threshold on the output spectrum (0 disables).
        init_std: N(0, init_std²) for every complex weight and bias (FreTS: 0.02); None: uniform
            with the variance of a real ``nn.Linear``'s default.

    Shape:
        - Input: ``(*, T, in_features)``, T ≥ 1 (the axis transformed by the FFT)
        - Output: ``(*, T, out_features)``
    """

    position_wise: ClassVar[bool] = False
    #: the layout this block needs: a sequence axis right before the features.
    layout: ClassVar[str] = "(*, T, C): FFT along T, the second-to-last axis"

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
        sparsity_threshold: float = 0.01,
        layers: int = 2,
        init_std: float | None = None,
    ) -> None:
        if layers not in (1, 2):
            raise ValueError(f"FrequencyMLP: layers={layers} must be 1 or 2")
        if layers == 1 and hidden_features is not None:
            raise ValueError(
                f"FrequencyMLP: a one-layer block has no hidden_features (got {hidden_features})"
            )
        super().__init__(in_features, out_features, out_features if layers == 1 else hidden_features)
        check_ratio(type(self).__name__, "dropout", dropout)
        if sparsity_threshold < 0:
            raise ValueError(f"FrequencyMLP: sparsity_threshold={sparsity_threshold} must be >= 0")
        self.layers = layers
        self.norm = build_norm(norm, in_features)
        self.fc1 = ComplexLinear(in_features, self.hidden_features, bias=bias, init_std=init_std)
        self.act = act()
        self.fc2 = (
            ComplexLinear(self.hidden_features, out_features, bias=bias, init_std=init_std)
            if layers == 2
            else None
        )
        self.sparsity_threshold = sparsity_threshold
        self.drop = Dropout(dropout)
        self.reset_parameters()

    def check_input(self, x: torch.Tensor) -> None:
        super().check_input(x)
        if x.ndim < 2:
            raise ValueError(
                f"FrequencyMLP: expected input of shape (*, T, in_features={self.in_features}) with a "
                f"sequence axis, got {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        length = x.shape[-2]
        h = self.norm(x)
        h = h if h.dtype in (torch.float32, torch.float64) else h.float()  # FFTs need float32/64
        spectrum = torch.fft.rfft(h, dim=-2, norm="ortho")
        real, imag = self.fc1(spectrum.real, spectrum.imag)
        real, imag = self.act(real), self.act(imag)
        if self.fc2 is not None:
            real, imag = self.fc2(real, imag)
        if self.sparsity_threshold > 0:
            real = F.softshrink(real, self.sparsity_threshold)
            imag = F.softshrink(imag, self.sparsity_threshold)
        out = torch.fft.irfft(torch.complex(real, imag), n=length, dim=-2, norm="ortho")
        return self.drop(out.to(x.dtype))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, layers={self.layers}, sparsity_threshold={self.sparsity_threshold}"
