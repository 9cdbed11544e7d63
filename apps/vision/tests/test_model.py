"""Models: timm registration, exact parameter counts, RePaViT's structure, merging, every block inside."""

import math
from functools import partial

import pytest
import timm
import torch
from torch import nn

import ffn_blocks
import ffn_vision  # noqa: F401 -- registers the models
from ffn_blocks import KANLayer, LastDimBatchNorm, RePaMLP, SwiGLU, reparameterize
from ffn_blocks.repa import RePaMLPInference
from ffn_blocks.testing import block_classes, count_flops, randomize_batchnorm_
from ffn_vision.models import POOLFORMER_SIZES, REPAVIT_SIZES, FFNBlock

BLOCKS = block_classes()


def params(model):
    return sum(p.numel() for p in model.parameters())


def test_registered_in_timm():
    names = set(timm.list_models("ffn_*"))
    assert {f"ffn_poolformer_{s}" for s in POOLFORMER_SIZES} <= names
    assert {f"ffn_repavit_{s}_patch16_224" for s in ("tiny", "small", "base", "large", "huge")} <= names
    assert {"ffn_repavit_tiny_patch4_32", "ffn_repavit_small_patch4_32"} <= names
    assert timm.models.get_pretrained_cfg("ffn_repavit_base_patch16_224").input_size == (3, 224, 224)


def test_pretrained_weights_are_refused_clearly():
    with pytest.raises(ValueError, match="no pretrained weights exist"):
        timm.create_model("ffn_poolformer_s12", pretrained=True)


@pytest.mark.parametrize("size", list(POOLFORMER_SIZES))
def test_poolformer_parameter_counts_equal_timm(size):
    assert params(timm.create_model(f"ffn_poolformer_{size}")) == params(
        timm.create_model(f"poolformer_{size}")
    )


def test_poolformer_s12_count_is_the_papers():
    assert params(timm.create_model("ffn_poolformer_s12")) == 11_915_176


@pytest.mark.parametrize("size", ["tiny", "small", "base"])
def test_repavit_counts_are_deit_s_plus_the_hidden_batchnorm(size):
    # the FFN pre-norm BatchNorm and DeiT's LayerNorm both hold 2C parameters, RePaMLP has the MLP's
    # weights, and the official FFN adds a BatchNorm over the 4C hidden width: 8C per block
    ours = params(timm.create_model(f"ffn_repavit_{size}_patch16_224"))
    embed_dim, depth, _ = REPAVIT_SIZES[size]
    assert ours == params(timm.create_model(f"deit_{size}_patch16_224")) + depth * 2 * 4 * embed_dim
    without = params(
        timm.create_model(f"ffn_repavit_{size}_patch16_224", ffn=partial(RePaMLP, idle_ratio=0.75))
    )
    assert without == params(timm.create_model(f"deit_{size}_patch16_224"))


def test_only_the_ffn_prenorm_is_batchnorm_and_theta_sets_active_channels():
    model = timm.create_model("ffn_repavit_tiny_patch4_32", depth=2)
    for block in model.blocks:
        assert isinstance(block, FFNBlock)
        assert isinstance(block.norm1, nn.LayerNorm) and isinstance(block.norm2, LastDimBatchNorm)
        assert isinstance(block.mlp, RePaMLP) and block.mlp.active_features == math.ceil(768 * 0.25)
    assert isinstance(model.norm, nn.LayerNorm)


def test_create_model_takes_any_ffn_and_keeps_its_init():
    model = timm.create_model("ffn_repavit_tiny_patch16_224", ffn=SwiGLU, depth=1)
    assert isinstance(model.blocks[0].mlp, SwiGLU)
    kan = timm.create_model("ffn_repavit_tiny_patch4_32", ffn=KANLayer, depth=1).blocks[0].mlp
    expected = 1 / math.sqrt(768 * kan.rational2.second_moment())  # fan-in 4·192; not 0.02
    assert kan.fc2.weight.std().item() == pytest.approx(expected, rel=0.05)


def _trained_repavit(layer_scale=None):
    torch.manual_seed(0)
    model = timm.create_model(
        "ffn_repavit_tiny_patch4_32",
        depth=2,
        embed_dim=32,
        num_heads=2,
        img_size=16,
        in_chans=1,
        num_classes=10,
        init_values=layer_scale,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(5):  # a few steps move weights and BatchNorm statistics off their defaults
        loss = model(torch.randn(16, 1, 16, 16)).logsumexp(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.mark.parametrize("layer_scale", [None, 0.1], ids=["plain", "layer-scale"])
def test_trained_repavit_merges_to_one_matrix_per_block_with_same_outputs(layer_scale):
    model = _trained_repavit(layer_scale)
    for block in model.blocks:  # the official FFN's two BatchNorms, their statistics moved by training
        assert isinstance(block.mlp.hidden_norm, LastDimBatchNorm)
        assert (
            block.mlp.hidden_norm.bn.running_mean.abs().max() > 0 and block.norm2.bn.running_var.ne(1).any()
        )
    merged = reparameterize(model)
    x = torch.randn(8, 1, 16, 16)
    with torch.no_grad():
        assert (merged(x) - model(x)).abs().max() <= 1e-5
    for block in merged.blocks:
        assert block.ffn_merged and isinstance(block.mlp, RePaMLPInference)
        assert isinstance(block.norm2, nn.Identity) and not block.mlp.shortcut  # BN and shortcut folded
    assert count_flops(merged, x) < count_flops(model, x)


def test_poolformer_reparameterizes_inside_its_ffn():
    model = timm.create_model("ffn_poolformer_s12", ffn=RePaMLP, depths=(1, 1, 1, 1), num_classes=5).eval()
    randomize_batchnorm_(model)
    merged = reparameterize(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (merged(x) - model(x)).abs().max() <= 1e-4
    assert all(isinstance(b.mlp, RePaMLPInference) for b in merged.modules() if hasattr(b, "token_mixer"))


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("arch", ["repavit", "poolformer"])
def test_every_block_trains_inside_both_architectures(block, arch):
    torch.manual_seed(0)
    if arch == "repavit":
        model = timm.create_model(
            "ffn_repavit_tiny_patch4_32", ffn=block, depth=1, embed_dim=32, num_heads=2, num_classes=3
        )
        x = torch.randn(4, 3, 32, 32)
    else:
        model = timm.create_model(
            "ffn_poolformer_s12", ffn=block, depths=(1, 1, 1, 1), dims=(16, 16, 32, 32), num_classes=3
        )
        x = torch.randn(4, 3, 64, 64)  # the last stage keeps 2 x 2 tokens for the sequence blocks
    logits = model(x)
    assert logits.shape == (4, 3)
    (logits.square().mean() + ffn_blocks.auxiliary_loss(model)).backward()
    ffn_grads = [p.grad for m in model.modules() if isinstance(m, block) for p in m.parameters()]
    assert ffn_grads and all(g is not None and torch.isfinite(g).all() for g in ffn_grads)
