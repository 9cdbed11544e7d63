"""KANLayer and GroupRational: contract, the fitted initialization, groups, variance preservation."""

import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from ffn_blocks import GroupRational, KANLayer, kan
from ffn_blocks.kan import _rational, fit_rational
from ffn_blocks.testing import FeedForwardContract


class TestKANLayer(FeedForwardContract):
    block = KANLayer
    init_args = {"hidden_features": 32}


class TestKANLayerUnevenGroups(FeedForwardContract):
    block = KANLayer
    in_features, out_features = 7, 3  # 7 channels over 8 groups: one group is empty
    init_args = {"hidden_features": 10, "num_groups": 8}


@pytest.mark.parametrize("form", kan.DENOMINATORS)
def test_rational_fitted_to_gelu_matches_it_on_minus_three_to_three(form):
    numerator, denominator = fit_rational(nn.GELU, denominator=form)
    x = torch.linspace(-3, 3, 6001, dtype=torch.float64)
    assert (_rational(x, numerator, denominator, form) - nn.functional.gelu(x)).abs().max() <= 1e-2


def test_hidden_rational_of_a_fresh_layer_is_gelu_and_first_is_identity():
    layer = KANLayer(16, 16, hidden_features=24)
    x = torch.linspace(-3, 3, 24 * 50).reshape(50, 24)
    assert (layer.rational2(x) - nn.functional.gelu(x)).abs().max() <= 1e-2
    y = torch.linspace(-5, 5, 16 * 10).reshape(10, 16)
    torch.testing.assert_close(layer.rational1(y), y)


@pytest.mark.parametrize("form", kan.DENOMINATORS)
def test_other_activations_are_fitted_too(form):
    numerator, denominator = fit_rational(nn.SiLU, denominator=form)
    x = torch.linspace(-3, 3, 601, dtype=torch.float64)
    assert (_rational(x, numerator, denominator, form) - nn.functional.silu(x)).abs().max() <= 1e-3


def test_denominator_is_safe_for_any_coefficients():
    rational = GroupRational(4, num_groups=2)
    with torch.no_grad():
        rational.denominator.copy_(torch.tensor([[-3.0, 1.0, -2.0, 0.5], [5.0, -5.0, 5.0, -5.0]]))
    out = rational(torch.linspace(-10, 10, 4 * 1000).reshape(1000, 4))
    assert torch.isfinite(out).all()


def test_groups_are_contiguous_and_share_the_numerator_as_kat_group():
    rational = GroupRational(8, num_groups=4, init=None)
    assert rational.group_index.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    # KAT_Group (rational_kat_cu): one numerator of 6 coefficients for all groups, 4 per group below
    assert rational.numerator.shape == (1, 6) and rational.denominator.shape == (4, 4)
    assert sum(p.numel() for p in GroupRational(768, num_groups=8).parameters()) == 6 + 8 * 4
    with torch.no_grad():
        rational.denominator[1, 0] = 1.0  # group 1 (channels 2 and 3): x / (1 + |x|)
    out = rational(torch.ones(3, 8))
    assert torch.all(out[:, 2:4] == 0.5) and torch.all(out[:, [0, 1, 4, 5, 6, 7]] == 1)


def test_per_group_numerators_are_an_option():
    rational = GroupRational(8, num_groups=4, init=None, shared_numerator=False)
    assert rational.numerator.shape == (4, 6) and "shared_numerator=False" in repr(rational)
    with torch.no_grad():
        rational.numerator[1].zero_()  # group 1 (channels 2 and 3) now outputs 0
    out = rational(torch.ones(3, 8))
    assert torch.all(out[:, 2:4] == 0) and torch.all(out[:, [0, 1, 4, 5, 6, 7]] == 1)


@pytest.mark.parametrize(("form", "expected"), [("abs_terms", 2 / 7), ("abs_sum", 2 / 3)])
def test_denominator_forms_by_hand(form, expected):
    """b = (−1, 1): KAT's kernels take 1 + |b₁||x| + |b₂|x² = 7 at x = 2, the paper's 1 + |b₁x + b₂x²| = 3."""
    rational = GroupRational(1, num_groups=1, init=None, denominator=form)
    with torch.no_grad():
        rational.denominator.copy_(torch.tensor([[-1.0, 1.0, 0.0, 0.0]]))
    assert rational(torch.tensor([2.0])).item() == pytest.approx(expected)


def test_an_unknown_denominator_form_is_a_clear_error():
    with pytest.raises(ValueError, match="KANLayer: denominator='abs' is not one of abs_terms, abs_sum"):
        KANLayer(8, 8, denominator="abs")


def test_variance_is_preserved_at_initialization():
    torch.manual_seed(0)
    layer = KANLayer(256, 256)
    x = torch.randn(4096, 256)
    with torch.no_grad():
        hidden = layer.fc1(layer.rational1(x))
        out = layer(x)
    assert 0.85 < hidden.var().item() < 1.15
    assert 0.85 < out.var().item() < 1.15  # not the 0.02-std collapse of the released code


def test_gelu_second_moment_matches_monte_carlo():
    rational = GroupRational(4)
    samples = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert rational.second_moment() == pytest.approx(
        nn.functional.gelu(samples).square().mean().item(), rel=1e-2
    )
    assert GroupRational(4, init=None).second_moment() == pytest.approx(1.0, abs=1e-9)
    assert math.isfinite(rational.second_moment())


def test_bad_arguments():
    with pytest.raises(ValueError, match="KANLayer: num_groups=0 must be a positive integer"):
        KANLayer(8, 8, num_groups=0)
    with pytest.raises(ValueError, match="numerator_degree=0 must be a positive integer"):
        KANLayer(8, 8, numerator_degree=0)


def _fit_unbounded_inputs(**options) -> list[float]:
    """100 Adam steps (lr 5e-3) of a regression whose inputs have std 30, like a sum over neighbours."""
    generator = torch.Generator().manual_seed(0)
    x = 30 * torch.randn(512, 16, generator=generator)
    y = torch.tanh(x[:, :4] / 30).sum(1, keepdim=True)
    torch.manual_seed(0)
    layer = KANLayer(16, 1, hidden_features=32, **options)
    optimizer = torch.optim.Adam(layer.parameters(), lr=5e-3)
    losses = []
    for _ in range(100):
        loss = (layer(x) - y).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_default_input_norm_keeps_training_on_unbounded_inputs_stable():
    losses = _fit_unbounded_inputs()
    assert all(math.isfinite(v) for v in losses) and max(losses) <= losses[0] and losses[-1] < 0.3 * losses[0]
    diverged = _fit_unbounded_inputs(rational_norm=None)  # rationals on raw inputs: what the default prevents
    assert not math.isfinite(diverged[-1]) or max(diverged) > 1e6 * diverged[0]


def test_the_fit_and_the_init_scale_ignore_the_fits_last_float64_bits(monkeypatch):
    exact = fit_rational(nn.GELU)
    moment = GroupRational(4, init=nn.GELU).second_moment()
    fit = kan._fit
    monkeypatch.setattr(kan, "_FITS", {})
    monkeypatch.setattr(kan, "_fit", lambda *a: tuple(c + 1e-13 for c in fit(*a)))  # noise of its size
    for numerator, denominator in (fit_rational(nn.GELU), fit_rational(nn.GELU)):  # fitted, cached
        assert torch.equal(numerator, exact[0]) and torch.equal(denominator, exact[1])
    assert GroupRational(4, init=nn.GELU).second_moment() == moment


def _seeded_layer_digest() -> str:
    torch.manual_seed(0)
    layer = KANLayer(32, 32, hidden_features=48)
    return hashlib.sha256(b"".join(v.numpy().tobytes() for v in layer.state_dict().values())).hexdigest()


def test_a_seeded_layer_starts_the_same_in_another_process():
    """The fit's float64 bits vary across processes (memory alignment); the layer's start may not."""
    code = "from test_kan import _seeded_layer_digest; print(_seeded_layer_digest())"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert other.stdout.strip() == _seeded_layer_digest()
