"""The study's matching and cost helpers: what they equalize and what they count."""

from __future__ import annotations

import torch

import ffn_blocks
from ffn_blocks.testing import count_flops
from ffn_lightning.bench.study import _matched_hidden, _target
from ffn_lightning.bench.study_cost import batch_samples, measure_costs


def test_match_flops_gives_each_block_the_mlp_s_flops_within_one_width_step():
    reference = ffn_blocks.MLP(48, 48, hidden_features=192)
    target = _target(reference, "flops")
    x = torch.zeros(1, 16, 48)
    assert target == count_flops(reference, x)
    for name in ("SwiGLU", "LowRankMLP", "MoEMLP"):
        hidden = _matched_hidden(name, (48, 48, target), "flops")
        cls = getattr(ffn_blocks, name)
        here, above = (count_flops(cls(48, 48, hidden_features=h), x) for h in (hidden, hidden + 1))
        assert abs(here - target) <= abs(above - here), (name, here, target)
    # matching parameters instead gives SwiGLU fewer hidden units than MLP's 192 (three matrices, not two)
    assert _matched_hidden("SwiGLU", (48, 48, _target(reference, "params")), "params") < 192


def test_a_sample_is_a_row_of_the_first_tensor():
    assert batch_samples((torch.zeros(5, 3), torch.zeros(5))) == 5
    assert batch_samples({"mix": torch.zeros(4, 100)}) == 4
    assert batch_samples(object()) == 1  # a graph


class _Data:
    def prepare_data(self):
        pass

    def setup(self, stage):
        pass

    def test_dataloader(self):
        return [(torch.randn(8, 16), torch.randn(8, 16))]


class _Module(torch.nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return self.block(x)


class _Cli:
    def __init__(self, block):
        self.model, self.datamodule = _Module(block), _Data()


def test_costs_count_flops_per_sample_and_time_the_merged_form():
    torch.manual_seed(0)
    clis = {
        "MLP": _Cli(ffn_blocks.MLP(16, 16, hidden_features=32)),
        "RePaMLP": _Cli(ffn_blocks.RePaMLP(16, 16)),
    }
    costs = measure_costs(clis, rounds=1)
    assert costs["MLP"]["flops_per_sample"] == 2 * 2 * 16 * 32  # two 16×32 products, 2 FLOPs per MAC
    assert "merged_samples_per_s" in costs["RePaMLP"] and "merged_samples_per_s" not in costs["MLP"]
    assert all(c["samples_per_s"] > 0 for c in costs.values())
