"""The `FeedForward` base class, the `FeedForwardFactory` type and the argument checks every block shares.

Every block maps ``(*, in_features) -> (*, out_features)`` on the last dimension, so one block serves
tokens ``(B, N, C)``, time steps ``(B, T, C)``, nodes ``(N, C)`` and rays ``(R, C)``. Apps receive a
factory and call it where they know the widths::

    ffn: FeedForwardFactory = MLP
    block = ffn(dim, dim)

In YAML the factory is ``{class_path: ffn_blocks.SwiGLU, init_args: {hidden_features: 512}}``; on the
command line ``--model.ffn SwiGLU``. jsonargparse turns that into a partial whose two remaining
positional arguments are the widths.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import ClassVar, TypeAlias

import torch
from torch import nn

__all__ = ["DEFAULT_EXPANSION", "FeedForward", "FeedForwardFactory", "check_ratio", "reparameterize"]

#: ``hidden_features=None`` means ``DEFAULT_EXPANSION * in_features`` in every block (the Transformer's 4x).
DEFAULT_EXPANSION = 4


class FeedForward(nn.Module):
    """Base class of every block: widths, input checking and the shared ``extra_repr``.

    Subclasses call ``super().__init__(in_features, out_features, hidden_features)`` first, build their
    layers, and call ``self.reset_parameters()`` last. ``forward`` starts with ``self.check_input(x)``.

    Class attributes read by `ffn_blocks.testing.FeedForwardContract`:
        position_wise: True when the output at a position depends only on the input at that position
            (all MLP-like blocks). Blocks that mix along another axis (sequence memory, frequency
            mixing) set it to False and document the layout they expect.
        spectral_taps: ``(pre, post)`` names of the submodules whose *output* is the hidden
            pre-activation and whose *input* is the hidden post-activation, for spectral diagnostics
            (`ffn_lightning.SpectralMonitor`); None when the block has no single hidden layer.
        output_layer: name of the last layer, whose zeroing makes the whole block output zero
            (`zero_init_last`); None when no single layer does (a skip path, routed experts).

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        hidden_features: hidden width; ``None`` means ``DEFAULT_EXPANSION * in_features``.
    """

    position_wise: ClassVar[bool] = True
    spectral_taps: ClassVar[tuple[str, str] | None] = None
    output_layer: ClassVar[str | None] = None

    def __init__(self, in_features: int, out_features: int, hidden_features: int | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        check_positive_int(name, "in_features", in_features)
        check_positive_int(name, "out_features", out_features)
        if hidden_features is None:
            hidden_features = DEFAULT_EXPANSION * in_features
        check_positive_int(name, "hidden_features", hidden_features)
        self.in_features = in_features
        self.out_features = out_features
        self.hidden_features = hidden_features

    def reset_parameters(self) -> None:
        """Re-initialize every parameter (idempotent). The default resets each child that can reset."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def zero_init_last(self) -> bool:
        """Zero the output layer so the block starts by returning 0 while that layer still learns.

        timm's ``zero_init_last``: a residual branch ``x + block(x)`` starts as the identity yet every
        parameter gets a gradient from the first step (a zero *gate* in front of the block would stop
        them). Returns False and changes nothing when the block has no `output_layer`.
        """
        if self.output_layer is None:
            return False
        zero_output_(getattr(self, self.output_layer))
        return True

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a one-line ``ValueError`` naming the shape when the last dimension is not ``in_features``."""
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{type(self).__name__}: expected input of shape (*, in_features={self.in_features}), "
                f"got {tuple(x.shape)}"
            )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, hidden_features={self.hidden_features}, "
            f"out_features={self.out_features}"
        )


#: A callable that builds a block from its two widths: a `FeedForward` subclass or a partial of one.
FeedForwardFactory: TypeAlias = Callable[[int, int], FeedForward]


def check_positive_int(owner: str, name: str, value: object) -> None:
    """Raise ``ValueError("<owner>: <name>=<value> must be a positive integer")`` unless value ≥ 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name}={value!r} must be a positive integer")


def check_divisible(owner: str, name: str, value: int, by_name: str, by: int) -> None:
    """Raise a one-line ``ValueError`` unless ``value`` is a multiple of ``by``."""
    if value % by != 0:
        raise ValueError(f"{owner}: {name}={value} must be divisible by {by_name}={by}")


def check_ratio(owner: str, name: str, value: object, *, high_inclusive: bool = False) -> None:
    """Raise a one-line ``ValueError`` unless ``0 <= value < 1`` (``<= 1`` with ``high_inclusive``)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and 0.0 <= value and (value <= 1.0 if high_inclusive else value < 1.0)
    if not ok:
        interval = "[0, 1]" if high_inclusive else "[0, 1)"
        raise ValueError(f"{owner}: {name}={value!r} must be in {interval}")


@torch.no_grad()
def zero_output_(layer: nn.Module) -> None:
    """Make a linear layer output zero with its gradient kept: an ``nn.Linear``'s weight and bias, or
    whatever the layer's own ``zero_output_()`` zeroes (a structured linear zeroes its last factor only,
    since zeroing every factor of a product would stop their gradients too)."""
    if isinstance(layer, nn.Linear):
        layer.weight.zero_()
        if layer.bias is not None:
            layer.bias.zero_()
    elif hasattr(layer, "zero_output_"):
        layer.zero_output_()
    else:
        raise TypeError(f"zero_output_: {type(layer).__name__} is neither nn.Linear nor has zero_output_()")


def build_norm(norm: Callable[[int], nn.Module] | None, features: int) -> nn.Module:
    """Instantiate an optional normalization factory over ``features`` channels (Identity when None)."""
    return nn.Identity() if norm is None else norm(features)


def reparameterize(model: nn.Module, *, inplace: bool = False) -> nn.Module:
    """Replace every submodule that offers ``reparameterize()`` by the inference module it returns.

    Blocks such as `RePaMLP` compute the same function in eval mode with fewer operations once their
    linear paths (and a preceding BatchNorm) are merged. The walk is top-down: a replaced module's
    children are not visited again. The result is in eval mode, the only mode in which the merged
    form is equivalent.

    Args:
        model: any module; it may itself be a reparameterizable block.
        inplace: modify ``model`` instead of a deep copy.

    Returns:
        The model with merged blocks (``model`` itself when ``inplace``).

    Example:
        >>> net = nn.Sequential(RePaMLP(8, 8), RePaMLP(8, 8))
        >>> fast = reparameterize(net)
    """
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    if callable(getattr(model, "reparameterize", None)):
        merged = model.reparameterize()
        return model if merged is None else merged.eval()
    _replace_children(model)
    return model


def _replace_children(module: nn.Module) -> None:
    for name, child in module.named_children():
        if callable(getattr(child, "reparameterize", None)):
            # ``None`` means the module merged itself in place (timm's convention for RepVGG-style blocks).
            merged = child.reparameterize()
            if merged is not None:
                setattr(module, name, merged.eval())
        else:
            _replace_children(child)
