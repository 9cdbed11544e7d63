"""The base class: checks and the reparameterize walker on modules without RePa blocks."""

import pytest
import torch
from torch import nn

from ffn_blocks import MLP, LastDimBatchNorm, reparameterize


class _MergesInPlace(nn.Module):
    """timm's convention: reparameterize() edits the module and returns None."""

    def __init__(self):
        super().__init__()
        self.merged = False

    def reparameterize(self):
        self.merged = True

    def forward(self, x):
        return x


def test_reparameterize_leaves_plain_models_equivalent():
    model = nn.Sequential(MLP(4, 4), nn.ReLU())
    merged = reparameterize(model)
    x = torch.randn(3, 4)
    torch.testing.assert_close(merged(x), model(x))
    assert merged is not model


def test_reparameterize_accepts_in_place_merging_blocks():
    model = nn.Sequential(_MergesInPlace())
    merged = reparameterize(model)
    assert isinstance(merged[0], _MergesInPlace) and merged[0].merged


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"hidden_features": 0}, r"MLP: hidden_features=0 must be a positive integer"),
        ({"dropout": 1.0}, r"MLP: dropout=1.0 must be in \[0, 1\)"),
    ],
)
def test_bad_widths_and_probabilities(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        MLP(4, 4, **kwargs)


def test_last_dim_batchnorm_normalizes_over_all_leading_positions():
    norm = LastDimBatchNorm(3, affine=False)
    x = torch.randn(4, 5, 3, generator=torch.Generator().manual_seed(0)) * torch.tensor([1.0, 10.0, 0.1]) + 2
    y = norm(x)
    torch.testing.assert_close(y.mean(dim=(0, 1)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        y.var(dim=(0, 1), unbiased=False), torch.ones(3), atol=2e-3, rtol=0
    )  # eps = 1e-5 vs var 0.01
    with pytest.raises(
        ValueError, match=r"LastDimBatchNorm: expected input of shape \(\*, num_features=3\), got \(4, 2\)"
    ):
        norm(torch.randn(4, 2))


def test_last_dim_batchnorm_survives_sync_batchnorm_conversion():
    from ffn_blocks import RePaMLP
    from ffn_blocks.testing import randomize_batchnorm_

    block = RePaMLP(8, 8, norm=LastDimBatchNorm, shortcut=True)
    randomize_batchnorm_(block)
    converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(block).eval()
    assert isinstance(converted.norm.bn, torch.nn.SyncBatchNorm)
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        torch.testing.assert_close(converted(x), block.eval()(x))
        assert (reparameterize(converted)(x) - block(x)).abs().max() <= 1e-5
