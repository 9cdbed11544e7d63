"""MoEMLP: contract, equivalence to one expert, routing, capacity accounting, balance loss, MoE++ experts."""

from functools import partial

import pytest
import torch
from torch import nn

from ffn_blocks import MLP, KANLayer, MoEMLP, SwiGLU, auxiliary_loss
from ffn_blocks.testing import FeedForwardContract


class TestMoEMLP(FeedForwardContract):
    block = MoEMLP
    init_args = {"hidden_features": 16, "num_experts": 4, "top_k": 2}


class TestMoEWithZeroComputationExperts(FeedForwardContract):
    block = MoEMLP
    out_features = 16
    init_args = {
        "num_experts": 2,
        "top_k": 2,
        "zero_experts": 1,
        "copy_experts": 1,
        "constant_experts": 1,
        "expert": partial(SwiGLU, hidden_features=16),
    }


class TestMoEWithKANExperts(FeedForwardContract):
    block = MoEMLP
    init_args = {"num_experts": 3, "top_k": 1, "expert": partial(KANLayer, hidden_features=16)}


def expert_state(moe, index):
    return {name.replace("__", "."): value[index] for name, value in moe.experts.named_parameters()}


def test_all_experts_identical_and_top_k_all_equals_one_expert():
    moe = MoEMLP(12, 10, hidden_features=20, num_experts=4, top_k=4, capacity_factor=1.0)
    with torch.no_grad():
        for value in moe.experts.parameters():
            value.copy_(value[0].expand_as(value))
    single = MLP(12, 10, hidden_features=20)
    single.load_state_dict(expert_state(moe, 0))
    x = torch.randn(5, 7, 12)
    moe.train()  # capacity 1.0 x k/E: every expert has room for every token
    torch.testing.assert_close(moe(x), single(x), rtol=1e-5, atol=1e-5)
    assert moe.last_drop_fraction == 0.0


def test_vectorized_dispatch_equals_a_per_token_reference():
    torch.manual_seed(0)
    moe = MoEMLP(8, 6, hidden_features=16, num_experts=5, top_k=2, capacity_factor=None).eval()
    experts = []
    for i in range(5):
        expert = MLP(8, 6, hidden_features=16)
        expert.load_state_dict(expert_state(moe, i))
        experts.append(expert)
    x = torch.randn(30, 8)
    probs = torch.softmax(moe.router(x), dim=-1)
    gates, choices = probs.topk(2, dim=-1)
    gates = gates / gates.sum(-1, keepdim=True)
    reference = torch.stack(
        [
            sum(g * experts[c](x[t]) for g, c in zip(gates[t], choices[t].tolist(), strict=True))
            for t in range(30)
        ]
    )
    torch.testing.assert_close(moe(x), reference, rtol=1e-5, atol=1e-5)


def test_capacity_drops_tokens_in_training_only_and_counts_them():
    moe = MoEMLP(8, 8, num_experts=4, top_k=1, capacity_factor=1.0)
    with torch.no_grad():  # a router that sends every token to expert 0
        moe.router.weight.zero_()
        moe.router.weight[0] = 1.0
    x = torch.rand(40, 8) + 0.1
    moe.train()
    moe(x)
    assert moe.last_drop_fraction == pytest.approx(30 / 40)  # capacity 1.0 * 40 / 4 = 10 slots
    assert int(moe.tokens_dropped) == 30 and int(moe.tokens_routed) == 40
    moe.eval()
    moe(x)
    assert moe.last_drop_fraction == 0.0


def test_balance_loss_is_one_when_uniform_and_large_when_collapsed():
    moe = MoEMLP(8, 8, num_experts=4, top_k=1, aux_loss_weight=1.0)
    with torch.no_grad():
        moe.router.weight.zero_()
    # all-zero logits: probabilities uniform; top-1 ties go to expert 0, so f = (1, 0, 0, 0)
    moe(torch.randn(16, 8))
    assert moe.aux_loss.item() == pytest.approx(1.0)
    with torch.no_grad():
        moe.router.weight[0] = 50.0
    moe(torch.rand(16, 8) + 0.5)
    assert moe.aux_loss.item() == pytest.approx(4.0, rel=1e-3)


def test_balance_loss_trains_the_router_towards_uniform():
    torch.manual_seed(0)
    moe = MoEMLP(8, 8, num_experts=4, top_k=1, aux_loss_weight=1.0)
    with torch.no_grad():
        moe.router.weight[0] += 2.0
    optimizer = torch.optim.Adam(moe.router.parameters(), lr=0.05)
    x = torch.rand(256, 8)
    first = None
    for _ in range(100):
        optimizer.zero_grad()
        moe(x)
        loss = auxiliary_loss(moe)
        first = first if first is not None else loss.item()
        loss.backward()
        optimizer.step()
    assert first > 2.0 and loss.item() < 1.2


def test_zero_copy_and_constant_experts():
    moe = MoEMLP(6, 6, num_experts=1, top_k=1, zero_experts=1, copy_experts=1, constant_experts=1)
    x = torch.randn(4, 6)
    x[:, 0] = 1.0  # a constant feature the router can key on

    def route_to(index):
        with torch.no_grad():
            moe.router.weight.zero_()
            moe.router.weight[index, 0] = 100.0

    route_to(1)  # zero expert
    torch.testing.assert_close(moe(x), torch.zeros(4, 6))
    route_to(2)  # copy expert
    torch.testing.assert_close(moe(x), x)
    route_to(3)  # constant expert
    alpha = torch.softmax(x @ moe.constant_mix[0].T, dim=-1)
    torch.testing.assert_close(moe(x), alpha[:, :1] * x + alpha[:, 1:] * moe.constant_vectors[0])


def test_auxiliary_loss_sums_every_moe_and_is_zero_without():
    model = nn.Sequential(MoEMLP(8, 8, num_experts=2, top_k=1), MoEMLP(8, 8, num_experts=2, top_k=1))
    model(torch.randn(4, 8))
    torch.testing.assert_close(auxiliary_loss(model), model[0].aux_loss + model[1].aux_loss)
    assert auxiliary_loss(MLP(4, 4)).item() == 0.0


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"top_k": 5, "num_experts": 4}, r"top_k=5 must be <= the number of experts \(4\)"),
        ({"capacity_factor": 0}, r"capacity_factor=0 must be a positive number or None"),
        ({"copy_experts": 1}, r"copy/constant experts need in_features == out_features, got 8 and 4"),
        ({"zero_experts": -1}, r"zero_experts=-1 must be a non-negative integer"),
        ({"num_experts": 0}, r"num_experts=0 must be a positive integer"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        MoEMLP(8, 4, **kwargs)
