"""The networks ``bench-floyd`` (APSP) and ``bench-tsp`` compare: our FloydNet in either wiring, the
authors' ``floydnet`` package (optional ``bench`` group; None without it) and a PyG GINE baseline of
matched parameter count."""

from __future__ import annotations

from functools import partial

from torch import nn

from ffn_blocks import MLP
from ffn_lightning.benchmarking import size_for_parameters

from ..floyd import PairGINE
from ..models.floydnet import FloydNet, Wiring

try:
    from ..models.floydnet_package import PackageFloydNet

    PackageFloydNet(3, 2, dim=4, num_layers=1, heads=1)
except ImportError:  # the optional bench group is not installed
    PackageFloydNet = None  # type: ignore[assignment,misc]

__all__ = ["GATED", "PACKAGE", "PackageFloydNet", "floydnet", "matched_gine"]

#: the label of the authors' package in tables and run stores
PACKAGE = "floydnet package (PivotalAttentionBlock)"

#: the label of FloydNet's first wiring (``wiring="gated"``) in tables and run stores
GATED = "FloydNet, gated wiring (before 2026-12-03)"


def floydnet(dim: int, layers: int, out_features: int = 2, wiring: Wiring = "package") -> FloydNet:
    """Our FloydNet with the package's defaults (ReLU FFN, 4× hidden) in the given wiring."""
    return FloydNet(
        3, out_features, dim=dim, num_layers=layers, heads=4, ffn=partial(MLP, act=nn.ReLU), wiring=wiring
    )


def matched_gine(target: int, layers: int, out_features: int = 2) -> PairGINE:
    """A `PairGINE` whose width gives the parameter count nearest ``target``."""

    def build(width: int) -> PairGINE:
        return PairGINE(out_features=out_features, dim=width, num_layers=layers)

    return build(size_for_parameters(build, target, low=8))
