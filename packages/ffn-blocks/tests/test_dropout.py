"""`Dropout`: the CPU mask keeps the right fraction in every lane, unbiased, seeded, and drops in for nn."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from ffn_blocks import MLP, Dropout
from ffn_blocks.dropout import dropout_mask


def _sigmas(kept: torch.Tensor, p: float) -> float:
    """How many binomial standard deviations the kept count is from its expectation."""
    n = kept.numel()
    return abs(kept.sum().item() - n * (1 - p)) / math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_each_lane_of_a_random_word_keeps_one_minus_p(p: float) -> None:
    torch.manual_seed(0)
    kept = dropout_mask(torch.empty(4096, 64), p) != 0
    # four 16-bit lanes per 64-bit word: a lane with a biased bit (e.g. a sign bit always 0) shows here
    for lane in range(4):
        assert _sigmas(kept.flatten()[lane::4], p) < 5, lane


def test_the_mask_is_unbiased_and_scaled_by_the_rounded_keep_probability() -> None:
    torch.manual_seed(0)
    mask = dropout_mask(torch.empty(1 << 20), 0.9)
    keep = round(0.1 * 65536)
    assert mask.unique().tolist() == [0.0, pytest.approx(65536 / keep)]
    assert mask.mean().item() == pytest.approx(1.0, abs=0.02)


def test_neighbouring_elements_are_independent() -> None:
    torch.manual_seed(0)
    kept = (dropout_mask(torch.empty(1 << 20), 0.5) != 0).float()
    centred = kept - kept.mean()
    for shift in (1, 2, 3, 4):
        correlation = (centred[:-shift] * centred[shift:]).mean() / centred.var()
        assert abs(correlation.item()) < 0.01, shift


def test_gradient_is_the_mask_and_eval_is_the_identity() -> None:
    drop = Dropout(0.5)
    x = torch.randn(64, 32, requires_grad=True)
    torch.manual_seed(1)
    y = drop(x)
    y.sum().backward()
    torch.manual_seed(1)
    assert torch.equal(x.grad, dropout_mask(x, 0.5))
    drop.eval()
    assert drop(x) is x


_MASK_DIGEST = """
import hashlib, torch
from ffn_blocks.dropout import dropout_mask
torch.manual_seed(3)
mask = dropout_mask(torch.empty(300_001), 0.3)
print(torch.get_num_threads(), mask.shape[0], hashlib.sha256(mask.numpy().tobytes()).hexdigest())
"""


def test_same_seed_same_mask_whatever_the_thread_count():
    # fresh processes: changing the thread count inside this one can deadlock MKL's nested LAPACK later
    digests = []
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        out = subprocess.run([sys.executable, "-c", _MASK_DIGEST], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        digests.append(out.stdout.split())
    assert [d[0] for d in digests] == ["1", "2"] and digests[0][1] == "300001"  # an odd count: last word cut
    assert digests[0][2] == digests[1][2]


def test_edge_probabilities_dtype_and_inplace() -> None:
    x = torch.randn(8, 16)
    assert torch.equal(Dropout(0.0)(x), x)
    assert torch.equal(Dropout(1.0)(x), torch.zeros_like(x))
    assert torch.equal(dropout_mask(x, 1e-7), torch.ones_like(x))  # keep rounds to 2^16: no overflow
    half = x.bfloat16()
    assert Dropout(0.5)(half).dtype == torch.bfloat16
    y = x.clone()
    assert Dropout(0.5, inplace=True)(y) is y


def test_drops_in_for_nn_dropout() -> None:
    drop = Dropout(0.2)
    assert isinstance(drop, nn.Dropout) and repr(drop) == "Dropout(p=0.2, inplace=False)"
    assert drop.state_dict() == {} and isinstance(MLP(4, 4, dropout=0.1).drop1, Dropout)
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(1.5)
