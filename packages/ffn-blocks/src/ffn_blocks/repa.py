"""`RePaMLP`: an FFN with idle (linear) hidden channels that merge away at inference.

From "RePaViT: Scalable Vision Transformer Acceleration via Structural Reparameterization on Feedforward
Network Layers" (Xu et al., ICML 2025, https://arxiv.org/abs/2505.21847). A fraction ``idle_ratio`` of
the hidden channels skips the activation, so their contribution ``W₂ᵢ W₁ᵢ x`` is linear and folds into
one ``out × in`` matrix, together with a preceding BatchNorm and the residual shortcut. At the default
idle ratio 0.75 and 4× expansion a ``C → C`` block keeps ``3C²`` of its ``8C²`` multiply-adds.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import FeedForward, build_norm, check_ratio
from .mlp import TwoLayerFeedForward
from .norm import LastDimBatchNorm

__all__ = ["MergeTerms", "RePaMLP", "RePaMLPInference", "merge_residual"]

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


class RePaMLP(TwoLayerFeedForward):
    """MLP whose first ``ceil(hidden · (1 − idle_ratio))`` hidden channels are activated, the rest idle.

    ``y = [x +] W₂ h([act(W₁ₐ n(x)); W₁ᵢ n(x)]) + b₂`` with ``n`` the optional pre-norm and ``h`` the
    optional hidden norm. The official RePaViT FFN (``Mlp`` with ``feature_norm="BatchNorm"``) has both,
    BatchNorms over the C inputs and over the hidden width after the activation. In eval mode
    `reparameterize` returns a `RePaMLPInference` computing the same function with two matmuls:
    ``y = M x + c + W₂ₐ act(W₁ₐ' x + b₁ₐ')``, where ``M`` holds the idle path, the folded BatchNorm and
    the shortcut's identity.

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        hidden_features: hidden width (default ``4 * in_features``).
        act: activation factory, applied to the active channels only.
        bias: learn additive biases.
        dropout: dropout probability after the activation and after the output layer (training only).
        norm: optional pre-norm factory. A BatchNorm (e.g. `LastDimBatchNorm`, as RePaViT uses) folds
            into the merged weights; any other norm is kept in front of the merged block.
        hidden_norm: optional norm over the hidden width after the activation (RePaViT's ``norm2``); a
            BatchNorm folds into the output layer when merging, another norm cannot be merged.
        idle_ratio: fraction θ of hidden channels without activation, in ``[0, 1)``.
        shortcut: add the input to the output (RePaViT's residual); needs ``in_features == out_features``.

    Shape:
        - Input: ``(*, in_features)``
        - Output: ``(*, out_features)``

    Example:
        >>> block = RePaMLP(64, 64, norm=LastDimBatchNorm, shortcut=True).eval()
        >>> fast = block.reparameterize()
        >>> x = torch.randn(8, 64)
        >>> torch.allclose(block(x), fast(x), atol=1e-5)
        True
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
        hidden_norm: Callable[[int], nn.Module] | None = None,
        idle_ratio: float = 0.75,
        shortcut: bool = False,
    ) -> None:
        name = type(self).__name__
        check_ratio(name, "idle_ratio", idle_ratio)
        if shortcut and in_features != out_features:
            widths = f"got {in_features} and {out_features}"
            raise ValueError(f"{name}: shortcut=True needs in_features == out_features, {widths}")
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
        self.idle_ratio = idle_ratio
        # round() first: 10 · (1 − 0.7) is 3.0000000000000004 in floating point, whose ceil is 4.
        self.active_features = math.ceil(round(self.hidden_features * (1.0 - idle_ratio), 9))
        self.shortcut = shortcut
        self.hidden_norm = build_norm(hidden_norm, self.hidden_features)
        self.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        h = self.fc1(self.norm(x))
        a = self.active_features
        h = self.hidden_norm(torch.cat([self.act(h[..., :a]), h[..., a:]], dim=-1))
        y = self.drop2(self.fc2(self.drop1(h)))
        return x + y if self.shortcut else y

    def zero_init_last(self) -> bool:
        """As `FeedForward.zero_init_last`; False with ``shortcut`` (the block then outputs its input)."""
        return False if self.shortcut else super().zero_init_last()

    @torch.no_grad()
    def reparameterize(self) -> RePaMLPInference:
        """Merge the idle path, a BatchNorm pre-norm and the shortcut; equal to this block in eval mode."""
        terms = MergeTerms.of_core(self).apply_norm(self.norm)
        return (terms.add_shortcut() if self.shortcut else terms).build()

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, idle_ratio={self.idle_ratio}, active_features={self.active_features}, "
            f"shortcut={self.shortcut}"
        )


@dataclass
class MergeTerms:
    """The merged function ``y = [x +] M n(x) + c + W₂ₐ act(W₁ₐ n(x) + b₁ₐ)`` as plain tensors.

    Built from a `RePaMLP`'s core (no norm, no shortcut), then transformed by the operations a
    surrounding residual block needs — fold an affine input map, put a norm in front, scale the
    output, add the shortcut — and finally turned into a `RePaMLPInference`. Each operation checks
    that it can still be expressed (e.g. nothing folds through an unfoldable LayerNorm).
    """

    linear: torch.Tensor  # M, (out, in)
    bias: torch.Tensor  # c, (out,)
    active_weight: torch.Tensor  # W₁ₐ, (a, in)
    active_bias: torch.Tensor  # b₁ₐ, (a,)
    output_weight: torch.Tensor  # W₂ₐ, (out, a)
    act: nn.Module
    pre_norm: nn.Module | None = None
    shortcut: bool = False  # an explicit "+ x" (only when it cannot be merged into M)

    @classmethod
    def of_core(cls, block: RePaMLP) -> MergeTerms:
        a = block.active_features
        w1, b1 = block.fc1.weight, _bias_or_zeros(block.fc1)
        w2, b2 = block.fc2.weight, _bias_or_zeros(block.fc2)
        if not isinstance(block.hidden_norm, nn.Identity):  # W₂ (s ⊙ h + t) + b₂: fold into W₂, b₂
            affine = _batchnorm_affine(block.hidden_norm)
            if affine is None:
                name = type(block.hidden_norm).__name__
                raise ValueError(f"RePaMLP merge: the hidden norm must be a BatchNorm to fold, got {name}")
            scale, shift = affine
            w2, b2 = w2 * scale, b2 + w2 @ shift
        return cls(
            linear=w2[:, a:] @ w1[a:],
            bias=w2[:, a:] @ b1[a:] + b2,
            active_weight=w1[:a].clone(),
            active_bias=b1[:a].clone(),
            output_weight=w2[:, :a].clone(),
            act=copy.deepcopy(block.act),
        )

    def _check_foldable(self, what: str) -> None:
        if self.pre_norm is not None or self.shortcut:
            raise ValueError(
                f"RePaMLP merge: cannot {what} after an unfoldable pre-norm or an explicit shortcut"
            )

    def fold_input_affine(self, scale: torch.Tensor, shift: torch.Tensor) -> MergeTerms:
        """Substitute ``x ← scale ⊙ x + shift`` (a BatchNorm in eval mode)."""
        self._check_foldable("fold an input affine map")
        self.bias = self.bias + self.linear @ shift
        self.linear = self.linear * scale
        self.active_bias = self.active_bias + self.active_weight @ shift
        self.active_weight = self.active_weight * scale
        return self

    def apply_norm(self, norm: nn.Module | None) -> MergeTerms:
        """Fold a BatchNorm into the weights, or keep any other norm in front."""
        if norm is None or isinstance(norm, nn.Identity):
            return self
        affine = _batchnorm_affine(norm)
        if affine is not None:
            return self.fold_input_affine(*affine)
        self._check_foldable("put a norm in front")
        self.pre_norm = copy.deepcopy(norm)
        return self

    def scale_output(self, gamma: torch.Tensor) -> MergeTerms:
        """Multiply the output by a per-channel ``gamma`` (a layer scale)."""
        if self.shortcut:
            raise ValueError("RePaMLP merge: cannot scale the output after an explicit shortcut")
        self.linear, self.bias = self.linear * gamma[:, None], self.bias * gamma
        self.output_weight = self.output_weight * gamma[:, None]
        return self

    def add_shortcut(self) -> MergeTerms:
        """Add the input to the output: into M when possible, else as an explicit addition."""
        if self.linear.shape[0] != self.linear.shape[1]:
            raise ValueError(f"RePaMLP merge: a shortcut needs equal widths, got {tuple(self.linear.shape)}")
        if self.pre_norm is None and not self.shortcut:
            eye = torch.eye(self.linear.shape[0], dtype=self.linear.dtype, device=self.linear.device)
            self.linear = self.linear + eye
        elif self.shortcut:
            raise ValueError("RePaMLP merge: the block already has a shortcut")
        else:
            self.shortcut = True
        return self

    def build(self) -> RePaMLPInference:
        out_features, in_features = self.linear.shape
        return RePaMLPInference(
            in_features,
            out_features,
            active_weight=self.active_weight,
            active_bias=self.active_bias,
            output_weight=self.output_weight,
            linear_weight=self.linear,
            linear_bias=self.bias,
            act=self.act,
            pre_norm=self.pre_norm,
            shortcut=self.shortcut,
        )


@torch.no_grad()
def merge_residual(
    block: RePaMLP, *, norm: nn.Module | None = None, layer_scale: torch.Tensor | None = None
) -> RePaMLPInference:
    """Merged form of a residual FFN sublayer ``x + layer_scale ⊙ block(norm(x))`` (eval mode).

    What a Transformer block calls to fold its FFN pre-norm (RePaViT's BatchNorm), its layer scale
    and its residual shortcut into one `RePaMLPInference`, as the paper's "one C×C matrix". The block's
    own norm and shortcut, if it has any, are merged first.

    Args:
        block: the sublayer's `RePaMLP` (``in_features == out_features``).
        norm: the sublayer's pre-norm; a BatchNorm folds into the weights, another norm stays in front.
        layer_scale: the sublayer's per-channel output scale, if any.
    """
    terms = MergeTerms.of_core(block).apply_norm(block.norm)
    if block.shortcut:
        terms.add_shortcut()
    terms.apply_norm(norm)
    if layer_scale is not None:
        terms.scale_output(layer_scale)
    return terms.add_shortcut().build()


class RePaMLPInference(FeedForward):
    """The merged form of a `RePaMLP`: ``y = M x + c + W₂ₐ act(W₁ₐ x + b₁ₐ)`` in two matmuls.

    The active projection and the merged linear path share one ``(a + out) × in`` matmul; the output
    projection adds onto the linear path. Built by `RePaMLP.reparameterize`, not by hand.

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        active_weight: ``(a, in)`` first-layer rows of the active channels (pre-norm folded in).
        active_bias: ``(a,)``.
        output_weight: ``(out, a)`` second-layer columns of the active channels.
        linear_weight: ``(out, in)`` merged idle path (plus identity when the shortcut is merged).
        linear_bias: ``(out,)`` merged biases.
        act: the activation module.
        pre_norm: a norm that could not be folded (e.g. LayerNorm), applied first; None when folded.
        shortcut: add the input at the end (only when the shortcut could not be merged).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        active_weight: torch.Tensor,
        active_bias: torch.Tensor,
        output_weight: torch.Tensor,
        linear_weight: torch.Tensor,
        linear_bias: torch.Tensor,
        act: nn.Module,
        pre_norm: nn.Module | None = None,
        shortcut: bool = False,
    ) -> None:
        super().__init__(in_features, out_features, hidden_features=active_weight.shape[0])
        self.active_features = active_weight.shape[0]
        self.input_weight = nn.Parameter(torch.cat([linear_weight, active_weight]).contiguous())
        self.input_bias = nn.Parameter(torch.cat([linear_bias, active_bias]).contiguous())
        self.output_weight = nn.Parameter(output_weight.contiguous())
        self.act = act
        self.pre_norm = pre_norm if pre_norm is not None else nn.Identity()
        self.shortcut = shortcut

    def reset_parameters(self) -> None:
        raise RuntimeError("RePaMLPInference holds merged weights; re-initialize the training-form RePaMLP")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        z = F.linear(self.pre_norm(x), self.input_weight, self.input_bias)
        linear, active = z.split([self.out_features, self.active_features], dim=-1)
        y = linear + F.linear(self.act(active), self.output_weight)
        return x + y if self.shortcut else y

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, active_features={self.active_features}, shortcut={self.shortcut}"


def _bias_or_zeros(linear: nn.Linear) -> torch.Tensor:
    if linear.bias is not None:
        return linear.bias
    return torch.zeros(linear.out_features, dtype=linear.weight.dtype, device=linear.weight.device)


def _batchnorm_affine(norm: nn.Module) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(scale, shift)`` of a BatchNorm's eval-mode map ``x ↦ scale ⊙ x + shift``; else None."""
    if isinstance(norm, LastDimBatchNorm):
        norm = norm.bn
    if not isinstance(norm, _BATCH_NORMS) or norm.running_mean is None or norm.running_var is None:
        return None
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale
    if norm.bias is not None:
        shift = shift + norm.bias
    return scale, shift
