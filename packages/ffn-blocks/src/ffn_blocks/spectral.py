"""Eigenspectrum diagnostics of FFN hidden activations (NerVE), as pure functions plus a streaming covariance.

From "NerVE: Nonlinear Eigenspectrum Dynamics in LLM Feed-Forward Networks" (Jha & Reagen, 2026,
https://arxiv.org/abs/2603.06922). From the covariance of an FFN's hidden activations (before and
after the nonlinearity) take the eigenvalues λ₁ ≥ … ≥ λ_d ≥ 0 and their normalized form
``p = λ / Σλ``:

- spectral entropy ``H = −Σ pᵢ log pᵢ`` (dispersion; ``log d`` when isotropic, 0 at rank 1);
- participation ratio ``PR = (Σλ)² / Σλ²`` (effective dimension; ``d`` isotropic, 1 at rank 1);
- early enrichment (top-heaviness): the area between the cumulative spectrum ``Cₖ = Σ_{i≤k} pᵢ`` and
  the uniform line ``k/d``, normalized to 1 at rank 1 and 0 when isotropic,
  ``EEE = 2/(d−1) · Σₖ (Cₖ − k/d)``. This is our operationalization of the paper's "eigenvalue early
  enrichment" (how much of the variance sits in the leading modes);
- Jensen-Shannon divergence between the normalized spectra of two checkpoints (distribution shift).

All metrics depend on the eigenvalues only, so they are invariant to rotations of the activations.
`StreamingCovariance` accumulates the covariance batch by batch (Chan et al.'s pairwise update), so the
activations never need to be held at once.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "StreamingCovariance",
    "early_enrichment",
    "eigenvalues",
    "js_divergence",
    "participation_ratio",
    "spectral_entropy",
    "spectral_metrics",
]


class StreamingCovariance:
    """Running mean and covariance of ``(*, d)`` samples, merged batch by batch in float64.

    Args:
        num_features: d, the size of the samples' last dimension.
        device: where the accumulators live (default CPU).

    Example:
        >>> cov = StreamingCovariance(8)
        >>> for batch in torch.randn(10, 32, 8):
        ...     cov.update(batch)
        >>> cov.covariance().shape
        torch.Size([8, 8])
    """

    def __init__(self, num_features: int, *, device: torch.device | str | None = None) -> None:
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"StreamingCovariance: num_features={num_features!r} must be a positive integer")
        self.num_features = num_features
        self.count = 0
        self.mean = torch.zeros(num_features, dtype=torch.float64, device=device)
        self.scatter = torch.zeros(num_features, num_features, dtype=torch.float64, device=device)

    @torch.no_grad()
    def update(self, samples: torch.Tensor) -> StreamingCovariance:
        """Add a batch of samples (any leading shape; the last dimension must be d)."""
        if samples.ndim == 0 or samples.shape[-1] != self.num_features:
            shape = tuple(samples.shape)
            raise ValueError(
                f"StreamingCovariance: expected samples of shape (*, {self.num_features}), got {shape}"
            )
        x = samples.detach().reshape(-1, self.num_features).to(self.mean.device, torch.float64)
        n = x.shape[0]
        if n == 0:
            return self
        batch_mean = x.mean(dim=0)
        centered = x - batch_mean
        self._merge(n, batch_mean, centered.T @ centered)
        return self

    def merge(self, other: StreamingCovariance) -> StreamingCovariance:
        """Fold another accumulator (e.g. from another process) into this one."""
        if other.num_features != self.num_features:
            raise ValueError(
                f"StreamingCovariance: cannot merge d={other.num_features} into d={self.num_features}"
            )
        if other.count:
            self._merge(other.count, other.mean.to(self.mean.device), other.scatter.to(self.mean.device))
        return self

    def _merge(self, n: int, mean: torch.Tensor, scatter: torch.Tensor) -> None:
        total = self.count + n
        delta = mean - self.mean
        self.scatter += scatter + torch.outer(delta, delta) * (self.count * n / total)
        self.mean += delta * (n / total)
        self.count = total

    def covariance(self, *, unbiased: bool = False) -> torch.Tensor:
        """The ``(d, d)`` covariance of everything seen so far (population form unless ``unbiased``)."""
        if self.count < (2 if unbiased else 1):
            raise ValueError(f"StreamingCovariance: covariance needs samples, have {self.count}")
        return self.scatter / (self.count - 1 if unbiased else self.count)


def eigenvalues(covariance: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of a symmetric PSD matrix in descending order, in float64, clamped at 0."""
    if covariance.ndim != 2 or covariance.shape[0] != covariance.shape[1]:
        raise ValueError(f"eigenvalues: expected a square (d, d) matrix, got {tuple(covariance.shape)}")
    sym = covariance.detach().to(torch.float64)
    sym = 0.5 * (sym + sym.T)
    return torch.linalg.eigvalsh(sym).flip(0).clamp_min(0.0)


def _normalized(values: torch.Tensor) -> torch.Tensor:
    values = values.to(torch.float64).clamp_min(0.0)
    total = values.sum()
    if total <= 0:
        raise ValueError("spectral metrics need a spectrum with positive total variance")
    return values / total


def spectral_entropy(values: torch.Tensor) -> float:
    """``−Σ pᵢ log pᵢ`` of the normalized eigenvalues (nats): ``log d`` isotropic, 0 at rank 1."""
    p = _normalized(values)
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def participation_ratio(values: torch.Tensor) -> float:
    """``(Σλ)² / Σλ²``: the effective number of dimensions, ``d`` isotropic and 1 at rank 1."""
    p = _normalized(values)
    return float(1.0 / p.square().sum())


def early_enrichment(values: torch.Tensor) -> float:
    """Top-heaviness in [0, 1]: normalized area between the cumulative spectrum and the uniform line."""
    p = _normalized(values).sort(descending=True).values
    d = p.numel()
    if d == 1:
        return 1.0
    uniform = torch.arange(1, d + 1, dtype=torch.float64) / d
    return float(2.0 / (d - 1) * (p.cumsum(0) - uniform).sum())


def js_divergence(values_a: torch.Tensor, values_b: torch.Tensor) -> float:
    """Jensen-Shannon divergence (nats, in ``[0, log 2]``) between two normalized, sorted spectra."""
    if values_a.numel() != values_b.numel():
        raise ValueError(
            f"js_divergence: spectra differ in length ({values_a.numel()} vs {values_b.numel()})"
        )
    p = _normalized(values_a).sort(descending=True).values
    q = _normalized(values_b).sort(descending=True).values
    m = 0.5 * (p + q)

    def kl(a: torch.Tensor) -> torch.Tensor:
        mask = a > 0
        return (a[mask] * (a[mask] / m[mask]).log()).sum()

    return float(0.5 * kl(p) + 0.5 * kl(q))


def spectral_metrics(values: torch.Tensor) -> dict[str, float]:
    """All single-spectrum metrics of one eigenvalue vector, plus the entropy normalized by ``log d``."""
    d = values.numel()
    entropy = spectral_entropy(values)
    return {
        "entropy": entropy,
        "normalized_entropy": entropy / math.log(d) if d > 1 else 0.0,
        "participation_ratio": participation_ratio(values),
        "early_enrichment": early_enrichment(values),
    }
