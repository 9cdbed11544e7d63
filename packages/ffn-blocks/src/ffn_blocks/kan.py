"""Group-rational KAN (GR-KAN): `KANLayer` and its learnable activation `GroupRational`.

From "Kolmogorov-Arnold Transformer" (Yang & Wang, ICLR 2025, https://arxiv.org/abs/2409.10594).
A KAN layer puts a learnable function on every input edge; GR-KAN makes that affordable by using one
rational base function ``F(x) = P(x) / Q(x)`` per group of channels, shared by every edge leaving the
group, followed by an ordinary linear map: ``y = W F(x) + b``.

By default the rational is the one KAT's released kernels compute (``KAT_Group`` in
Adamdad/rational_kat_cu, read line by line): ``Q(x) = 1 + |b₁||x| + … + |bₙ||x|ⁿ``, one numerator
``P`` shared by all groups and one denominator per group (6 + 8 × 4 coefficients at degrees 5/4 with
8 groups). Named options give the paper's formula ``Q(x) = 1 + |b₁x + … + bₙxⁿ|``
(``denominator="abs_sum"``) and a numerator per group (``shared_numerator=False``). Either way ``Q ≥ 1``
never vanishes.

Initialization follows the paper, not its released code: the rational starts as a least-squares fit
of a chosen activation (GELU by default; the identity for the first layer, as in KAT), the fit done
once per activation and form and cached; the linear weights get the variance-preserving scale
``Var(w) = 1 / (fan_in · E[F(x)²])`` for ``x ~ N(0, 1)`` (the released code overwrites it with a
std of 0.02).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .base import FeedForward, build_norm, check_positive_int, check_ratio
from .dropout import Dropout

__all__ = ["DENOMINATORS", "GroupRational", "KANLayer", "fit_rational"]

#: the safe denominators: ``abs_terms`` ``1 + Σ|b_j||x|^j`` (KAT's kernels), ``abs_sum`` ``1 + |Σ b_j x^j|``
DENOMINATORS = ("abs_terms", "abs_sum")

_FIT_INTERVAL = 4.0  # fit on [-4, 4]; the acceptance interval [-3, 3] sits well inside it


def _polyval(coefficients: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Σ_k c[..., k] x^k by Horner's rule; ``coefficients[..., k]`` broadcasts against ``x``."""
    out = coefficients[..., -1].expand_as(x)
    for k in range(coefficients.shape[-1] - 2, -1, -1):
        out = torch.addcmul(coefficients[..., k], out, x)
    return out


def _rational(
    x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor, form: str = "abs_terms"
) -> torch.Tensor:
    """``P(x) / Q(x)``; ``denominator`` holds b₁…bₙ (no constant term), ``form`` one of `DENOMINATORS`:
    ``Q = 1 + Σ_{j≥1} |b_j||x|^j`` (``abs_terms``) or ``Q = 1 + |Σ_{j≥1} b_j x^j|`` (``abs_sum``)."""
    if form == "abs_terms":
        size = x.abs()
        q = _polyval(denominator.abs(), size) * size
    else:
        q = (_polyval(denominator, x) * x).abs()
    return _polyval(numerator, x) / (1.0 + q)


def _fit(
    act: nn.Module, numerator_degree: int, denominator_degree: int, form: str
) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.linspace(-_FIT_INTERVAL, _FIT_INTERVAL, 801, dtype=torch.float64)
    with torch.no_grad():
        y = act(x.float()).double()
    p, q = numerator_degree + 1, denominator_degree
    powers = x[:, None] ** torch.arange(max(p, q + 1), dtype=torch.float64)  # x⁰ … x^max(m, n)
    if form == "abs_terms":
        return _fit_terms(powers, y, p, q)
    # Linearized least squares (Levy's method): P(x) − y·(b₁x + … + bₙxⁿ) ≈ y, linear in (a, b).
    system = torch.cat([powers[:, :p], -y[:, None] * powers[:, 1 : q + 1]], dim=1)
    solution = torch.linalg.lstsq(system, y[:, None]).solution[:, 0]
    numerator = solution[:p].clone().requires_grad_(True)
    denominator = solution[p:].clone().requires_grad_(True)
    # Refine on the safe form itself (the absolute value changes the function where b(x) < 0).
    optimizer = torch.optim.LBFGS(
        [numerator, denominator],
        max_iter=200,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-14,
        tolerance_change=1e-16,
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = (_rational(x, numerator, denominator, form) - y).square().mean()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return numerator.detach(), denominator.detach()


def _fit_terms(powers: torch.Tensor, y: torch.Tensor, p: int, q: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``abs_terms`` fit: ``Q = 1 + Σ c_j |x|^j`` with ``c ≥ 0`` is exactly the safe form, so the fit is
    linear algebra only. Sanathanan-Koerner iterations: least squares of ``(P − y·Q) / Q_prev``, linear in
    ``(a, c)``; a ``c_j`` the solve makes negative is dropped (set to 0, the boundary) and the rest
    solved again. Each solve is well conditioned, so the result moves by ~1e-14 with the last bits of
    the inputs. (L-BFGS on this form ends at one of many near-equal minima, differently per process.)"""
    sizes = powers.abs()[:, 1 : q + 1]
    active = torch.ones(q, dtype=torch.bool)
    weight = torch.ones_like(y)
    for _ in range(20):
        while True:
            system = torch.cat([powers[:, :p], -y[:, None] * sizes[:, active]], dim=1) * weight[:, None]
            solution = torch.linalg.lstsq(system, (y * weight)[:, None]).solution[:, 0]
            terms = torch.zeros(q, dtype=torch.float64).masked_scatter(active, solution[p:])
            if bool((terms >= 0).all()):
                break
            active[torch.where(active, terms, torch.inf).argmin()] = False
        weight = 1.0 / (1.0 + sizes @ terms)
    return solution[:p], terms


_FITS: dict[tuple[str, int, int, str], tuple[torch.Tensor, torch.Tensor]] = {}


def _check_denominator(name: str, form: str) -> None:
    if form not in DENOMINATORS:
        raise ValueError(f"{name}: denominator={form!r} is not one of {', '.join(DENOMINATORS)}")


def fit_rational(
    act: Callable[[], nn.Module] | None,
    numerator_degree: int = 5,
    denominator_degree: int = 4,
    denominator: str = "abs_terms",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients ``(a₀…a_m, b₁…b_n)`` (float64) of the safe rational closest to ``act()`` on [−4, 4].

    ``abs_terms``: weighted linear least squares only (`_fit_terms`); ``abs_sum``: a linearized
    least-squares solve followed by L-BFGS on the safe form. Cached per activation (keyed by its class
    and repr), degrees and form (``denominator``, one of `DENOMINATORS`), so each fit runs once per
    process. ``act=None`` is the identity, which is exact: ``a₁ = 1``, every other
    coefficient 0.

    The coefficients are rounded to multiples of 2⁻²⁴ (`_quantized`): the fit's float64 result changes
    from process to process by up to ~1e-13 (LAPACK and vectorized reductions follow the buffers'
    memory alignment), and a KAN's training amplifies any difference in its start, so without the
    rounding the same seed gave different runs (vision study, seed 0: 0.60, 0.79 and 0.89 accuracy).
    """
    check_positive_int("fit_rational", "numerator_degree", numerator_degree)
    check_positive_int("fit_rational", "denominator_degree", denominator_degree)
    _check_denominator("fit_rational", denominator)
    if act is None:
        numerator = torch.zeros(numerator_degree + 1, dtype=torch.float64)
        numerator[1] = 1.0
        return numerator, torch.zeros(denominator_degree, dtype=torch.float64)
    module = act()
    key = (
        f"{type(module).__module__}.{type(module).__qualname__}({module.extra_repr()})",
        numerator_degree,
        denominator_degree,
        denominator,
    )
    if key not in _FITS:
        _FITS[key] = _quantized(*_fit(module, numerator_degree, denominator_degree, denominator))
    numerator, denominator = _FITS[key]
    return numerator.clone(), denominator.clone()


def _quantized(*values: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``values`` rounded to multiples of 2⁻²⁴ (float64 still; exact in float32 below 1 in magnitude),
    so noise far below that step, the fit's, leaves them unchanged."""
    return tuple(torch.round(v * 2.0**24) / 2.0**24 for v in values)


def _gauss_hermite(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights of n-point Gauss-Hermite quadrature (Golub-Welsch), for ∫ f(t) e^{−t²} dt."""
    off = torch.sqrt(torch.arange(1, n, dtype=torch.float64) / 2.0)
    eigenvalues, eigenvectors = torch.linalg.eigh(torch.diag(off, 1) + torch.diag(off, -1))
    return eigenvalues, math.sqrt(math.pi) * eigenvectors[0].square()


class GroupRational(nn.Module):
    """A learnable rational activation ``P(x) / Q(x)`` with its coefficients per group of channels.

    Channel ``c`` of ``C`` belongs to group ``floor(c · G / C)``: contiguous, near-equal groups for any
    width (a width below ``G`` leaves some groups unused). As KAT's ``KAT_Group``, every group has its
    own denominator and all share one numerator; ``shared_numerator=False`` gives each its own.

    Args:
        num_features: C, the size of the last dimension.
        num_groups: G, how many denominators (and numerators, unless shared).
        init: activation factory the rational starts as (None: the identity).
        numerator_degree: m, degree of P.
        denominator_degree: n, degree of Q's terms.
        shared_numerator: one numerator for all groups (KAT's code) or one per group.
        denominator: Q's safe form, one of `DENOMINATORS`: ``abs_terms`` (KAT's code,
            ``1 + Σ|b_j||x|^j``) or ``abs_sum`` (the paper's formula, ``1 + |Σ b_j x^j|``).

    Shape:
        - Input: ``(*, C)``
        - Output: ``(*, C)``
    """

    def __init__(
        self,
        num_features: int,
        *,
        num_groups: int = 8,
        init: Callable[[], nn.Module] | None = nn.GELU,
        numerator_degree: int = 5,
        denominator_degree: int = 4,
        shared_numerator: bool = True,
        denominator: str = "abs_terms",
    ) -> None:
        super().__init__()
        check_positive_int("GroupRational", "num_features", num_features)
        check_positive_int("GroupRational", "num_groups", num_groups)
        _check_denominator("GroupRational", denominator)
        self.num_features = num_features
        self.num_groups = num_groups
        self.init = init
        self.form = denominator
        self.numerator = nn.Parameter(
            torch.empty(1 if shared_numerator else num_groups, numerator_degree + 1)
        )
        self.denominator = nn.Parameter(torch.empty(num_groups, denominator_degree))
        self.register_buffer(
            "group_index", torch.arange(num_features) * num_groups // num_features, persistent=False
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        numerator, denominator = self._fit()
        with torch.no_grad():
            self.numerator.copy_(numerator.expand_as(self.numerator))
            self.denominator.copy_(denominator.expand_as(self.denominator))

    def second_moment(self) -> float:
        """E[F(x)²] under x ~ N(0, 1) for the initial coefficients (all groups start equal), rounded like
        them (`fit_rational`, `_quantized`): it scales the next linear layer's init."""
        numerator, denominator = self._fit()
        t, w = _gauss_hermite(64)
        values = _rational(math.sqrt(2.0) * t, numerator, denominator, self.form)
        return float(_quantized((w * values.square()).sum() / math.sqrt(math.pi))[0])

    def _fit(self) -> tuple[torch.Tensor, torch.Tensor]:
        return fit_rational(self.init, self.numerator.shape[1] - 1, self.denominator.shape[1], self.form)

    @property
    def shared_numerator(self) -> bool:
        return self.numerator.shape[0] == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        numerator = self.numerator[0] if self.shared_numerator else self.numerator[self.group_index]
        return _rational(x, numerator, self.denominator[self.group_index], self.form)

    def extra_repr(self) -> str:
        degrees = (self.numerator.shape[1] - 1, self.denominator.shape[1])
        options = "" if self.shared_numerator else ", shared_numerator=False"
        return (
            f"{self.num_features}, num_groups={self.num_groups}, degrees={degrees}{options}, "
            f"denominator={self.form}"
        )


class KANLayer(FeedForward):
    """GR-KAN feed-forward block: ``y = W₂ F₂(W₁ F₁(n(norm(x))) + b₁) + b₂`` (Yang & Wang, ICLR 2025),
    ``n`` the rationals' own input normalization (``rational_norm``).

    Two KAN layers replace the two linears of an `MLP`, as in KAT: ``F₁`` starts as the identity and
    ``F₂`` as ``act``, so at initialization the block computes an MLP up to the rational's fit error
    and trains its activations from there.

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        hidden_features: hidden width (default ``4 * in_features``).
        act: the activation the hidden rational ``F₂`` is fitted to at initialization.
        bias: learn additive biases.
        dropout: dropout probability after ``F₂`` and after the output layer.
        norm: normalization factory applied to the input (None: none), as every block's.
        rational_norm: normalization in front of the first rational (LayerNorm by default; None: none).
            The rationals are degree-5 polynomials over degree-4 ones, so on unbounded inputs (a sum
            over a graph's neighbours, an un-normalized residual stream) both their values and the
            effect of Adam's unit-scale coefficient steps grow like ``|x|⁵`` and training diverges;
            KAT only ever feeds them LayerNorm-ed tokens. Pass None behind a pre-norm of your own. It
            is not ``norm``: a config that swaps this block in for an `MLP` carries the MLP's
            ``norm: null`` over (jsonargparse keeps the arguments two classes share), which would
            silently remove it.
        num_groups: coefficient groups per rational (KAT uses 8).
        numerator_degree: degree m of P (KAT: 5).
        denominator_degree: degree n of Q's terms (KAT: 4).
        shared_numerator: one numerator for all groups, as KAT's code (False: one per group).
        denominator: Q's safe form (`DENOMINATORS`): ``abs_terms`` as KAT's code, ``abs_sum`` as the
            paper's formula.

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
        act: Callable[[], nn.Module] = nn.GELU,
        bias: bool = True,
        dropout: float = 0.0,
        norm: Callable[[int], nn.Module] | None = None,
        rational_norm: Callable[[int], nn.Module] | None = nn.LayerNorm,
        num_groups: int = 8,
        numerator_degree: int = 5,
        denominator_degree: int = 4,
        shared_numerator: bool = True,
        denominator: str = "abs_terms",
    ) -> None:
        super().__init__(in_features, out_features, hidden_features)
        name = type(self).__name__
        check_ratio(name, "dropout", dropout)
        for field, value in (
            ("num_groups", num_groups),
            ("numerator_degree", numerator_degree),
            ("denominator_degree", denominator_degree),
        ):
            check_positive_int(name, field, value)
        _check_denominator(name, denominator)
        degrees = {
            "numerator_degree": numerator_degree,
            "denominator_degree": denominator_degree,
            "shared_numerator": shared_numerator,
            "denominator": denominator,
        }
        self.norm = build_norm(norm, in_features)
        self.rational_norm = build_norm(rational_norm, in_features)
        self.rational1 = GroupRational(in_features, num_groups=num_groups, init=None, **degrees)
        self.fc1 = nn.Linear(in_features, self.hidden_features, bias=bias)
        self.rational2 = GroupRational(self.hidden_features, num_groups=num_groups, init=act, **degrees)
        self.drop1 = Dropout(dropout)
        self.fc2 = nn.Linear(self.hidden_features, out_features, bias=bias)
        self.drop2 = Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for norm in (self.norm, self.rational_norm):
            if hasattr(norm, "reset_parameters"):
                norm.reset_parameters()
        for rational, linear in ((self.rational1, self.fc1), (self.rational2, self.fc2)):
            rational.reset_parameters()
            std = 1.0 / math.sqrt(linear.in_features * rational.second_moment())
            nn.init.normal_(linear.weight, std=std)
            if linear.bias is not None:
                nn.init.zeros_(linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        h = self.fc1(self.rational1(self.rational_norm(self.norm(x))))
        return self.drop2(self.fc2(self.drop1(self.rational2(h))))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, num_groups={self.rational1.num_groups}"
