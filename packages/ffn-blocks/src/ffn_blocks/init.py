"""Initialization schemes that need more than a layer's shape: Virgo for message-passing networks.

From "On the Initialization of Graph Neural Networks" (Li et al., ICML 2023,
https://proceedings.mlr.press/v202/li23y.html). Virgo picks each layer's weight variance so that the
forward activations and the backward gradients keep their variance through the message-passing
layers, accounting for the widths, the activation (ReLU-family gain 2) and the graph: with ``Â`` the
normalized adjacency with self-loops,

- forward, from ``x̄`` (each node's mean over its feature columns): ``S_k = ‖Â^k x̄‖²``; the first layer
  gets ``2 / d_in`` and layer ``ℓ ≥ 1`` gets ``(2 / d_h) · S_ℓ / S_{ℓ+1}``;
- backward, from the all-ones vector: ``B_k = ‖Â^k 1‖²``; the output layer gets ``N / ((C − 1) · B_1)``
  and, walking back, layer ``L − 1 − i`` gets ``(2 / d_h) · B_i / B_{i+1}``;
- the two combine by their harmonic mean, and weights are drawn from ``U(±√(3σ²))``.

Only ``Â``-vector products are needed, so this module takes a ``propagate`` callable and stays free of
any graph library; ``ffn_graphs`` builds it from the real training graph with PyG.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch

__all__ = ["virgo_norms", "virgo_uniform_", "virgo_variances"]


def virgo_norms(
    propagate: Callable[[torch.Tensor], torch.Tensor], vector: torch.Tensor, num_layers: int
) -> list[float]:
    """``[‖Â v‖², ‖Â² v‖², …, ‖Â^L v‖²]`` by repeated ``propagate`` (an ``Â``-vector product)."""
    if num_layers < 1:
        raise ValueError(f"virgo_norms: num_layers={num_layers} must be >= 1")
    norms, h = [], vector.reshape(-1, 1).to(torch.float64)
    for _ in range(num_layers):
        h = propagate(h)
        norms.append(float(h.square().sum()))
    return norms


def virgo_variances(
    feature_norms: Sequence[float],
    ones_norms: Sequence[float],
    *,
    in_features: int,
    hidden_features: int,
    num_classes: int,
    num_nodes: int,
    mode: Literal["forward", "backward", "both"] = "both",
) -> list[float]:
    """Weight variance of each of the ``L`` message-passing layers.

    Args:
        feature_norms: ``‖Â^k x̄‖²`` for ``k = 1..L`` (`virgo_norms` of the mean feature vector).
        ones_norms: ``‖Â^k 1‖²`` for ``k = 1..L`` (`virgo_norms` of the all-ones vector).
        in_features: input width ``d_in``.
        hidden_features: hidden width ``d_h``.
        num_classes: output classes ``C`` (≥ 2).
        num_nodes: ``N``.
        mode: ``"forward"``, ``"backward"`` or ``"both"`` (harmonic mean, Virgo's default).
    """
    layers = len(feature_norms)
    if layers < 1 or len(ones_norms) != layers:
        raise ValueError(
            "virgo_variances: need one norm per layer in both lists, "
            f"got {len(feature_norms)} and {len(ones_norms)}"
        )
    if num_classes < 2:
        raise ValueError(f"virgo_variances: num_classes={num_classes} must be >= 2")
    if min(*feature_norms, *ones_norms) <= 0:
        raise ValueError(
            "virgo_variances: propagated norms must be positive (an empty graph or zero features?)"
        )
    forward = [2.0 / in_features] + [
        2.0 / hidden_features * feature_norms[i - 1] / feature_norms[i] for i in range(1, layers)
    ]
    backward = [num_nodes / ((num_classes - 1) * ones_norms[0])] + [
        2.0 / hidden_features * ones_norms[i - 1] / ones_norms[i] for i in range(1, layers)
    ]
    backward.reverse()
    if mode == "forward":
        return forward
    if mode == "backward":
        return backward
    return [2.0 * f * b / (f + b) for f, b in zip(forward, backward, strict=True)]


@torch.no_grad()
def virgo_uniform_(weight: torch.Tensor, variance: float) -> torch.Tensor:
    """Fill ``weight`` from ``U(−a, a)`` with ``a = √(3 · variance)`` (so its variance is ``variance``)."""
    bound = math.sqrt(3.0 * variance)
    return weight.uniform_(-bound, bound)
