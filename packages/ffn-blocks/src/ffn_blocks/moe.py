"""`MoEMLP`: top-k routed mixture of experts with capacity, load balancing and zero-computation experts.

Routing follows Switch Transformer / GShard ("Switch Transformers", Fedus et al., JMLR 2022,
https://arxiv.org/abs/2101.03961): a linear router, softmax, top-k, a per-expert capacity
``ceil(capacity_factor · tokens · k / num_experts)`` filled first-choice-first, and the load-balancing
loss ``num_experts · Σᵢ fᵢ Pᵢ``. The zero-computation experts are MoE++'s ("MoE++: Accelerating
Mixture-of-Experts Methods with Zero-Computation Experts", Jin et al., ICLR 2025,
https://arxiv.org/abs/2410.07348): *zero* (outputs 0: the token skips the layer), *copy* (outputs the
input) and *constant* (``α₁ x + α₂ v`` with a learned vector ``v`` and ``α = softmax(W_c x)``).

Dispatch is vectorized: assignments are sorted by expert, each token's slot within its expert comes
from a cumulative count, tokens are scattered into an ``(experts, capacity, in)`` buffer and every
expert runs at once through `torch.vmap` over the experts' stacked parameters (batched matmuls), so
any vmappable expert factory works (MLP, SwiGLU, LowRankMLP, KANLayer, ... — not BatchNorm experts).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state

from .base import FeedForward, FeedForwardFactory, build_norm, check_positive_int, check_ratio
from .dropout import Dropout
from .mlp import MLP

__all__ = ["MoEMLP", "auxiliary_loss"]


def _check_arguments(
    name: str,
    in_features: int,
    out_features: int,
    dropout: float,
    num_experts: int,
    top_k: int,
    capacity_factor: float | None,
    extra: dict[str, int],
) -> int:
    """`MoEMLP`'s argument checks (a one-line error naming the argument); returns the expert count,
    ``num_experts`` plus the ``extra`` zero, copy and constant experts."""
    check_ratio(name, "dropout", dropout)
    check_positive_int(name, "num_experts", num_experts)
    check_positive_int(name, "top_k", top_k)
    for field, count in extra.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name}: {field}={count!r} must be a non-negative integer")
    total = num_experts + sum(extra.values())
    if top_k > total:
        raise ValueError(f"{name}: top_k={top_k} must be <= the number of experts ({total})")
    if capacity_factor is not None and not (isinstance(capacity_factor, int | float) and capacity_factor > 0):
        raise ValueError(f"{name}: capacity_factor={capacity_factor!r} must be a positive number or None")
    if (extra["copy_experts"] or extra["constant_experts"]) and in_features != out_features:
        raise ValueError(
            f"{name}: copy/constant experts need in_features == out_features, got {in_features} and "
            f"{out_features}"
        )
    return total


class MoEMLP(FeedForward):
    """Mixture of ``num_experts`` feed-forward experts, ``top_k`` per token, plus optional MoE++ experts.

    The weighted load-balancing loss of the last forward is ``self.aux_loss`` (a scalar tensor); add it to
    the training loss, e.g. with `auxiliary_loss` over the whole model. Capacity applies in training
    only: in eval mode no token is dropped, so the block is position-wise there. Tokens dropped in
    training are counted in ``tokens_dropped`` / ``tokens_routed`` and ``last_drop_fraction``.

    Args:
        in_features: size of the input's last dimension.
        out_features: size of the output's last dimension.
        hidden_features: hidden width of each default `MLP` expert (default ``4 * in_features``).
        act: activation of the default `MLP` expert.
        bias: biases of the default `MLP` expert.
        dropout: dropout probability on the output.
        norm: optional normalization factory applied to the input (before routing).
        num_experts: feed-forward experts.
        top_k: experts per token, counting zero-computation ones.
        capacity_factor: per-expert capacity in training, as a multiple of an even share; None for no
            dropping.
        expert: factory ``(in_features, out_features) -> module`` for each expert; None for an `MLP` with
            ``hidden_features``, ``act`` and ``bias``.
        zero_experts: MoE++ zero experts.
        copy_experts: MoE++ copy experts (need ``in_features == out_features``).
        constant_experts: MoE++ constant experts (need ``in_features == out_features``).
        aux_loss_weight: scale of the load-balancing loss stored in ``aux_loss`` (Switch: 0.01).
        normalize_gates: rescale the top-k gate values to sum to 1.

    Shape:
        - Input: ``(*, in_features)``
        - Output: ``(*, out_features)``
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
        num_experts: int = 8,
        top_k: int = 2,
        capacity_factor: float | None = 1.25,
        expert: FeedForwardFactory | None = None,
        zero_experts: int = 0,
        copy_experts: int = 0,
        constant_experts: int = 0,
        aux_loss_weight: float = 0.01,
        normalize_gates: bool = True,
    ) -> None:
        super().__init__(in_features, out_features, hidden_features)
        extra = {
            "zero_experts": zero_experts,
            "copy_experts": copy_experts,
            "constant_experts": constant_experts,
        }
        total = _check_arguments(
            type(self).__name__,
            in_features,
            out_features,
            dropout,
            num_experts,
            top_k,
            capacity_factor,
            extra,
        )
        if aux_loss_weight < 0:
            raise ValueError(f"{type(self).__name__}: aux_loss_weight={aux_loss_weight} must be >= 0")
        self.num_experts = num_experts
        self.top_k = top_k
        self.capacity_factor = capacity_factor
        self.num_zero, self.num_copy, self.num_constant = zero_experts, copy_experts, constant_experts
        self.aux_loss_weight = aux_loss_weight
        self.normalize_gates = normalize_gates
        self._expert_factory = expert or partial(
            MLP, hidden_features=self.hidden_features, act=act, bias=bias
        )

        self.norm = build_norm(norm, in_features)
        self.router = nn.Linear(in_features, total, bias=False)
        self.experts = StackedExperts(self._expert_factory(in_features, out_features), num_experts)
        if constant_experts:
            self.constant_vectors = nn.Parameter(torch.empty(constant_experts, out_features))
            self.constant_mix = nn.Parameter(torch.empty(constant_experts, 2, in_features))
        self.drop = Dropout(dropout)
        self.register_buffer("tokens_routed", torch.zeros((), dtype=torch.long), persistent=False)
        self.register_buffer("tokens_dropped", torch.zeros((), dtype=torch.long), persistent=False)
        self.last_drop_fraction = 0.0
        self.aux_loss: torch.Tensor = torch.zeros(())
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.router.weight, std=0.02)
        self.experts.load(
            [self._expert_factory(self.in_features, self.out_features) for _ in range(self.num_experts)]
        )
        if self.num_constant:
            nn.init.normal_(self.constant_vectors, std=1.0)
            nn.init.normal_(self.constant_mix, std=1.0 / math.sqrt(self.in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        lead = x.shape[:-1]
        tokens = self.norm(x).reshape(-1, self.in_features)
        n, k, e = tokens.shape[0], self.top_k, self.num_experts

        probs = F.softmax(self.router(tokens), dim=-1, dtype=torch.float32)
        gate, choice = probs.topk(k, dim=-1)  # (n, k)
        if self.normalize_gates:
            gate = gate / gate.sum(dim=-1, keepdim=True)
        gate = gate.to(tokens.dtype)
        self.aux_loss = self.aux_loss_weight * _balance_loss(probs, choice)

        # First choices fill capacity before second choices: order assignments choice-major.
        choice_flat, gate_flat = choice.T.reshape(-1), gate.T.reshape(-1)
        token_flat = torch.arange(n, device=x.device).repeat(k)
        out = tokens.new_zeros(n, self.out_features)

        is_ffn = choice_flat < e
        if bool(is_ffn.any()):
            out = out + self._dispatch(tokens, choice_flat[is_ffn], token_flat[is_ffn], gate_flat[is_ffn], n)
        if self.num_copy:
            lo = e + self.num_zero
            picked = (choice_flat >= lo) & (choice_flat < lo + self.num_copy)
            out.index_add_(0, token_flat[picked], tokens[token_flat[picked]] * gate_flat[picked, None])
        if self.num_constant:
            lo = e + self.num_zero + self.num_copy
            picked = choice_flat >= lo
            idx, which = token_flat[picked], choice_flat[picked] - lo
            alpha = F.softmax(torch.einsum("mi,mji->mj", tokens[idx], self.constant_mix[which]), dim=-1)
            value = alpha[:, :1] * tokens[idx] + alpha[:, 1:] * self.constant_vectors[which]
            out.index_add_(0, idx, value * gate_flat[picked, None])
        # Zero experts add nothing: their share of the gate is simply not spent.
        return self.drop(out).reshape(*lead, self.out_features)

    def _dispatch(
        self, tokens: torch.Tensor, expert: torch.Tensor, token: torch.Tensor, gate: torch.Tensor, n: int
    ) -> torch.Tensor:
        """Scatter assignments into per-expert slots, run the experts once, gather the weighted outputs."""
        e = self.num_experts
        order = torch.argsort(expert, stable=True)  # keeps the choice-major priority within each expert
        expert, token, gate = expert[order], token[order], gate[order]
        counts = torch.bincount(expert, minlength=e)
        starts = torch.cumsum(counts, 0) - counts
        slot = torch.arange(expert.numel(), device=expert.device) - starts[expert]
        if self.training and self.capacity_factor is not None:
            capacity = max(1, math.ceil(self.capacity_factor * n * self.top_k / e))
        else:
            capacity = int(counts.max())
        kept = slot < capacity
        with torch.no_grad():
            dropped = int((~kept).sum())
            self.tokens_routed += expert.numel()
            self.tokens_dropped += dropped
            self.last_drop_fraction = dropped / max(1, expert.numel())
        expert, token, gate, slot = expert[kept], token[kept], gate[kept], slot[kept]
        buffer = tokens.new_zeros(e, capacity, self.in_features)
        buffer[expert, slot] = tokens[token]
        results = self.experts(buffer)[expert, slot]  # (assignments, out)
        return tokens.new_zeros(n, self.out_features).index_add_(0, token, results * gate[:, None])

    def extra_repr(self) -> str:
        extra = (
            f", num_experts={self.num_experts}, top_k={self.top_k}, capacity_factor={self.capacity_factor}"
        )
        moepp = (self.num_zero, self.num_copy, self.num_constant)
        if any(moepp):
            extra += ", zero/copy/constant experts={}/{}/{}".format(*moepp)
        return super().extra_repr() + extra


class StackedExperts(nn.Module):
    """``E`` copies of one expert architecture with stacked state, run together through `torch.vmap`.

    Parameters are stored as ``(E, *shape)`` tensors named after the expert's own (dots become
    ``__``); buffers likewise, not persisted (they are rebuilt with the experts). The template expert
    lives on the meta device and only supplies the forward code.

    Shape:
        - Input: ``(E, C, in_features)``
        - Output: ``(E, C, out_features)``
    """

    def __init__(self, template: nn.Module, num_experts: int) -> None:
        super().__init__()
        self.num_experts = num_experts
        self._param_names = [name for name, _ in template.named_parameters()]
        self._buffer_names = [name for name, _ in template.named_buffers()]
        for name, param in template.named_parameters():
            self.register_parameter(_key(name), nn.Parameter(param.new_empty(num_experts, *param.shape)))
        for name, buffer in template.named_buffers():
            self.register_buffer(_key(name), buffer.new_empty(num_experts, *buffer.shape), persistent=False)
        self._template = [template.to("meta")]  # a list keeps it out of the module tree and state_dict

    @torch.no_grad()
    def load(self, experts: list[nn.Module]) -> None:
        """Copy the state of ``experts`` (freshly built ones, on reset) into the stacked tensors."""
        params, buffers = stack_module_state(experts)
        for name, value in {**params, **buffers}.items():
            getattr(self, _key(name)).copy_(value)

    def forward(self, buffer: torch.Tensor) -> torch.Tensor:
        template = self._template[0]
        state = {name: getattr(self, _key(name)) for name in self._param_names + self._buffer_names}

        def one_expert(expert_state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            return functional_call(template, expert_state, (x,))

        return torch.vmap(one_expert, randomness="different")(state, buffer)

    def extra_repr(self) -> str:
        return f"num_experts={self.num_experts}, expert={type(self._template[0]).__name__}"


def _key(name: str) -> str:
    return name.replace(".", "__")


def _balance_loss(probs: torch.Tensor, choice: torch.Tensor) -> torch.Tensor:
    """Switch/GShard load balance ``E · Σᵢ fᵢ Pᵢ``: 1 when routing is uniform, up to E when collapsed."""
    num = probs.shape[-1]
    fraction = torch.bincount(choice.reshape(-1), minlength=num).to(probs.dtype) / choice.numel()
    return num * (fraction * probs.mean(dim=0)).sum()


def auxiliary_loss(model: nn.Module) -> torch.Tensor:
    """Sum of the ``aux_loss`` every submodule exposes (e.g. `MoEMLP`'s load balance); 0 when none does.

    Call it after the forward pass and add it to the training loss::

        loss = criterion(model(x), y) + ffn_blocks.auxiliary_loss(model)
    """
    total: torch.Tensor | None = None
    for module in model.modules():
        value = getattr(module, "aux_loss", None)
        if isinstance(value, torch.Tensor):
            total = value if total is None else total + value
    if total is None:
        reference = next(model.parameters(), None)
        return torch.zeros((), device=None if reference is None else reference.device)
    return total
