"""`FeedForwardContract`: the shared test class every block's tests subclass.

Usage, in a pytest module::

    class TestSwiGLU(FeedForwardContract):
        block = SwiGLU
        init_args = {"hidden_features": 32}

pytest collects the ``test_*`` methods of the subclass. The contract checks the constructor signature,
shapes for several leading dimensions, position-wise equivalence, gradients for every parameter, finite
outputs, deterministic ``reset_parameters``, the repr, a float64 round trip, a pickle round trip, the
one-line error for a wrong last dimension, that the block learns a smooth map, and, through
`ffn_blocks.reparameterize`, equivalence of the merged model (with non-default BatchNorm statistics)
and strictly fewer FLOPs wherever the block offers ``reparameterize()``.

Only torch is imported here, so the contract runs in any app's test suite.
"""

from __future__ import annotations

import copy
import inspect
import io
import types
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .base import reparameterize

__all__ = ["FeedForwardContract", "block_classes", "count_flops", "randomize_batchnorm_"]


def block_classes() -> list[type]:
    """Every concrete `FeedForward` block exported by ``ffn_blocks`` (in ``__all__`` order).

    Tests that must cover every block iterate this, so a new block is covered without test edits.
    """
    import ffn_blocks
    from ffn_blocks.base import FeedForward

    found = (getattr(ffn_blocks, name) for name in ffn_blocks.__all__)
    return [c for c in found if inspect.isclass(c) and issubclass(c, FeedForward) and c is not FeedForward]


# Keywords that several blocks share must mean the same thing with the same default (STYLE.md): the
# Lightning CLI keeps the previous block's init_args when a user switches class_path, dropping only
# those the new block does not accept.
SHARED_DEFAULTS: dict[str, Any] = {
    "hidden_features": None,
    "act": nn.GELU,
    "bias": True,
    "dropout": 0.0,
    "norm": None,
}


def count_flops(module: nn.Module, *inputs: torch.Tensor) -> int:
    """FLOPs of one forward as counted by `torch.utils.flop_counter.FlopCounterMode` (matmuls, convs)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*inputs)
    return counter.get_total_flops()


@torch.no_grad()
def randomize_batchnorm_(model: nn.Module, seed: int = 0) -> int:
    """Give every BatchNorm non-default running statistics and affine parameters; return how many."""
    gen = torch.Generator().manual_seed(seed)
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
            shape = module.running_mean.shape
            module.running_mean.copy_(torch.randn(shape, generator=gen))
            module.running_var.copy_(torch.rand(shape, generator=gen) * 1.5 + 0.5)
            if module.affine:
                module.weight.copy_(torch.rand(shape, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(shape, generator=gen) * 0.5)
            count += 1
    return count


class FeedForwardContract:
    """Behaviour every feed-forward block must have. Subclass it and set ``block`` (and ``init_args``)."""

    #: The block class or factory under test, called as ``block(in_features, out_features, **init_args)``.
    block: ClassVar[Callable[..., nn.Module]]
    init_args: ClassVar[dict[str, Any]] = {}
    in_features: ClassVar[int] = 16
    out_features: ClassVar[int] = 12
    #: Leading shapes the block must accept; blocks that mix along an axis may need at least one dim.
    leading_shapes: ClassVar[tuple[tuple[int, ...], ...]] = ((), (3,), (2, 5), (2, 3, 4))
    #: Max abs difference allowed between a block and its reparameterized form (fp32).
    reparameterize_atol: ClassVar[float] = 1e-5
    #: shared arguments whose default this block must change, with the reason in the block's docstring
    #: (e.g. KANLayer's input LayerNorm); every other shared argument keeps `SHARED_DEFAULTS`.
    default_overrides: ClassVar[dict[str, Any]] = {}
    #: `test_learns_a_smooth_map`'s bound on final loss / first loss; a block that cannot reach one half
    #: by construction raises it, with the reason in its test class.
    smooth_map_loss_ratio: ClassVar[float] = 0.5

    # ----------------------------------------------------------------------------------------- helpers
    def make_block(self, seed: int = 0) -> nn.Module:
        """Build the block under test with a fixed seed; override to prepare state (e.g. a guide ratio)."""
        torch.manual_seed(seed)
        return self.block(self.in_features, self.out_features, **self.init_args)

    def sample_input(self, *leading: int, seed: int = 1) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(*leading, self.in_features, generator=gen)

    def _block_class(self) -> type:
        target = self.block
        while hasattr(target, "func"):  # functools.partial
            target = target.func
        return target

    # ------------------------------------------------------------------------------------------- tests
    def test_constructor_signature(self) -> None:
        params = list(inspect.signature(self._block_class()).parameters.values())
        assert [p.name for p in params[:2]] == ["in_features", "out_features"], params
        assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params[:2])
        for p in params[2:]:
            assert p.kind is inspect.Parameter.KEYWORD_ONLY, f"{p.name} must be keyword-only"
            assert p.default is not inspect.Parameter.empty, f"{p.name} needs a default"
            is_lambda = isinstance(p.default, types.FunctionType) and p.default.__name__ == "<lambda>"
            assert not is_lambda, f"{p.name}: a lambda default does not pickle into checkpoints"
            if p.name in SHARED_DEFAULTS:
                expected = self.default_overrides.get(p.name, SHARED_DEFAULTS[p.name])
                assert p.default == expected, f"{p.name} default must be {expected!r}"

    def test_output_shapes(self) -> None:
        block = self.make_block().eval()
        for leading in self.leading_shapes:
            out = block(self.sample_input(*leading))
            assert out.shape == (*leading, self.out_features), (leading, out.shape)

    def test_position_wise(self) -> None:
        block = self.make_block().eval()
        x = self.sample_input(2, 6)
        with torch.no_grad():
            full = block(x)
            if getattr(block, "position_wise", True):
                single = block(x[1:2, 4:5])
                torch.testing.assert_close(single, full[1:2, 4:5], rtol=1e-5, atol=1e-5)
            else:  # a mixing block must make other positions depend on this one
                x2 = x.clone()
                x2[1, 4] += 1.0
                changed = (block(x2) - full).abs().amax(dim=-1)[1]
                changed[4] = 0
                assert changed.max() > 0, "position_wise=False but no other position depends on the input"

    def test_gradients_reach_every_parameter(self) -> None:
        block = self.make_block().train()
        x = self.sample_input(4, 5).requires_grad_(True)
        block(x).square().mean().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all()
        total = 0.0
        for name, param in block.named_parameters():
            assert param.grad is not None, f"{name} got no gradient"
            assert torch.isfinite(param.grad).all(), f"{name} has a non-finite gradient"
            total += float(param.grad.abs().sum())
        assert total > 0.0

    def test_outputs_finite_for_large_inputs(self) -> None:
        block = self.make_block().eval()
        with torch.no_grad():
            out = block(100.0 * self.sample_input(3, 4))
        assert torch.isfinite(out).all()

    def test_reset_parameters_is_deterministic(self) -> None:
        block = self.make_block()
        torch.manual_seed(123)
        block.reset_parameters()
        first = copy.deepcopy(block.state_dict())
        with torch.no_grad():
            for param in block.parameters():
                param.add_(1.0)
        torch.manual_seed(123)
        block.reset_parameters()
        for name, value in block.state_dict().items():
            torch.testing.assert_close(value, first[name], rtol=0, atol=0, msg=f"{name} not reset")

    def test_repr_shows_widths(self) -> None:
        text = repr(self.make_block())
        assert f"in_features={self.in_features}" in text
        assert f"out_features={self.out_features}" in text

    def test_float64_round_trip(self) -> None:
        block = self.make_block().eval()
        x = self.sample_input(3, 4)
        as64 = copy.deepcopy(block).double()
        with torch.no_grad():
            y32, y64 = block(x), as64(x.double())
        assert y64.dtype == torch.float64
        torch.testing.assert_close(y64.float(), y32, rtol=1e-4, atol=1e-4)
        back = as64.float().state_dict()
        for name, value in block.state_dict().items():
            torch.testing.assert_close(back[name], value, rtol=0, atol=0)

    def test_pickle_round_trip(self) -> None:
        block = self.make_block().eval()
        buffer = io.BytesIO()
        torch.save(block, buffer)
        buffer.seek(0)
        loaded = torch.load(buffer, weights_only=False)
        x = self.sample_input(2, 3)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), block(x), rtol=0, atol=0)

    def test_wrong_last_dimension_is_a_value_error(self) -> None:
        block = self.make_block()
        x = torch.randn(2, 3, self.in_features + 1)
        try:
            block(x)
        except ValueError as error:
            message = str(error)
            assert "\n" not in message and "in_features" in message and str(tuple(x.shape)) in message
        else:
            raise AssertionError("a wrong last dimension must raise ValueError")

    def test_learns_a_smooth_map(self) -> None:
        """200 Adam steps on a fixed smooth target must cut the loss at least in half (by default).

        The target ``sin(2 x U) V`` goes through a 2-dimensional latent, so blocks with a low-rank or
        block structure can represent it as well as dense ones.
        """
        block = self.make_block().train()
        gen = torch.Generator().manual_seed(7)
        x = self.sample_input(256)
        latent = torch.randn(self.in_features, 2, generator=gen) / self.in_features**0.5
        readout = torch.randn(2, self.out_features, generator=gen)
        target = torch.sin(2.0 * x @ latent) @ readout
        optimizer = torch.optim.Adam(block.parameters(), lr=3e-3)
        losses = []
        for _ in range(200):
            optimizer.zero_grad()
            loss = (block(x) - target).square().mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < self.smooth_map_loss_ratio * losses[0], (losses[0], losses[-1])

    def test_zero_init_last_outputs_zero_and_keeps_learning(self) -> None:
        block = self.make_block().eval()
        before = copy.deepcopy(block.state_dict())
        zero_init_last = getattr(block, "zero_init_last", None)
        if zero_init_last is None or not zero_init_last():
            for name, value in block.state_dict().items():  # a block without an output layer is untouched
                torch.testing.assert_close(value, before[name], rtol=0, atol=0, msg=f"{name} changed")
            return
        x = self.sample_input(2, 6)
        out = block(x)
        assert out.abs().max() == 0, "zero_init_last left a non-zero output"
        (out * torch.randn_like(out)).sum().backward()
        output_layer = block.get_submodule(block.output_layer)
        grads = [p.grad for p in output_layer.parameters() if p.grad is not None]
        learning = grads and sum(float(g.abs().sum()) for g in grads) > 0
        assert learning, "the zeroed output layer gets no gradient"

    def test_spectral_taps_name_real_submodules(self) -> None:
        block = self.make_block()
        taps = getattr(block, "spectral_taps", None)
        if taps is None:  # the block declares no single hidden layer (e.g. MoE): nothing to tap
            return
        pre, post = (block.get_submodule(name) for name in taps)
        seen: set[str] = set()
        handles = [
            pre.register_forward_hook(lambda *_: seen.add("pre")),  # hooks return None: no output change
            post.register_forward_pre_hook(lambda *_: seen.add("post")),
        ]
        block.eval()(self.sample_input(2, 3))
        for handle in handles:
            handle.remove()
        assert seen == {"pre", "post"}, "spectral taps did not fire in forward"

    def test_reparameterize_is_equivalent(self) -> None:
        block = self.make_block()
        randomize_batchnorm_(block)
        block.eval()
        merged = reparameterize(block)
        x = self.sample_input(4, 8)
        with torch.no_grad():
            diff = (merged(x) - block(x)).abs().max().item()
        assert diff <= self.reparameterize_atol, f"max abs diff {diff:.3g}"
        if callable(getattr(block, "reparameterize", None)):
            assert count_flops(merged, x) < count_flops(block, x), "reparameterized form must be cheaper"
