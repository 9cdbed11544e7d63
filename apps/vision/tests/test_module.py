"""ImageClassifier: learns the real digits, Mixup path, weight-decay groups, merged checkpoints."""

from functools import partial

import pytest
import torch
from lightning.pytorch import Trainer

from ffn_blocks import MoEMLP
from ffn_blocks.repa import RePaMLPInference
from ffn_vision.data import DigitsDataModule
from ffn_vision.export import reparameterize_checkpoint
from ffn_vision.module import ImageClassifier

TINY = {"model_kwargs": {"embed_dim": 64, "depth": 2, "num_heads": 2}, "in_chans": 1, "img_size": 16}


def trainer(tmp_path, **kwargs):
    defaults = {
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": tmp_path,
        "accelerator": "cpu",
    }
    return Trainer(**{**defaults, **kwargs})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny RePaViT trained for 10 epochs (~10 s) on the real digits, and its checkpoint."""
    root = tmp_path_factory.mktemp("vision")
    torch.manual_seed(0)
    module = ImageClassifier(**TINY, optimizer=partial(torch.optim.AdamW, lr=3e-3))
    data = DigitsDataModule(image_size=16, batch_size=32)
    fit = trainer(root, max_epochs=10, enable_checkpointing=True)
    fit.fit(module, data)
    return module, data, fit.checkpoint_callback.best_model_path, root


def test_learns_the_real_digits(trained, tmp_path):
    module, data, _, _ = trained
    result = trainer(tmp_path).test(module, datamodule=data, verbose=False)[0]
    assert result["test/acc1"] > 0.6  # chance is 0.1
    assert result["test/acc5"] >= result["test/acc1"]


def test_merged_checkpoint_gives_the_same_predictions(trained, tmp_path):
    module, data, ckpt, _ = trained
    merged = reparameterize_checkpoint(ckpt, tmp_path / "merged.ckpt")
    assert all(isinstance(b.mlp, RePaMLPInference) for b in merged.model.blocks)
    data.setup()
    images = data.test_set.tensors[0]
    with torch.no_grad():
        before, after = module.eval()(images), merged.eval()(images)
    assert (before - after).abs().max() <= 1e-4
    assert torch.equal(before.argmax(-1), after.argmax(-1))
    loaded = ImageClassifier.load_from_checkpoint(tmp_path / "merged.ckpt", weights_only=False)
    assert loaded.is_merged
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(images), after)


def test_unmerged_module_loads_a_merged_checkpoint_through_the_trainer(trained, tmp_path):
    _, data, ckpt, _ = trained
    reparameterize_checkpoint(ckpt, tmp_path / "merged.ckpt")
    fresh = ImageClassifier(**TINY)  # built unmerged, as `ffn-vision test --ckpt_path merged.ckpt` does
    expected = trainer(tmp_path).test(
        ImageClassifier.load_from_checkpoint(ckpt, weights_only=False), datamodule=data, verbose=False
    )[0]["test/acc1"]
    got = trainer(tmp_path).test(
        fresh, datamodule=data, ckpt_path=tmp_path / "merged.ckpt", weights_only=False, verbose=False
    )[0]["test/acc1"]
    assert fresh.is_merged and got == expected


def test_merged_model_refuses_training():
    module = ImageClassifier(**TINY, merged=True)
    with pytest.raises(RuntimeError, match="inference-only"):
        module.training_step((torch.randn(2, 1, 16, 16), torch.tensor([0, 1])), 0)


def test_mixup_and_moe_auxiliary_loss_in_a_training_step():
    module = ImageClassifier(**TINY, ffn=MoEMLP, mixup_alpha=0.8, cutmix_alpha=1.0)
    loss = module.training_step((torch.randn(4, 1, 16, 16), torch.tensor([0, 1, 2, 3])), 0)
    assert torch.isfinite(loss)
    aux = sum(float(m.aux_loss) for m in module.modules() if isinstance(m, MoEMLP))
    assert aux > 0


def test_no_weight_decay_on_norms_biases_and_tokens():
    module = ImageClassifier(**TINY)
    decay, no_decay = ({id(p) for p in g["params"]} for g in module.parameter_groups())
    assert id(module.model.cls_token) in no_decay and id(module.model.blocks[0].norm2.bn.weight) in no_decay
    assert id(module.model.blocks[0].mlp.fc1.bias) in no_decay
    assert id(module.model.blocks[0].mlp.fc1.weight) in decay
    assert len(decay) + len(no_decay) == len(list(module.model.parameters()))


def test_bad_model_names():
    with pytest.raises(ValueError, match="model_name='no_such_net' is not in timm's registry"):
        ImageClassifier(model_name="no_such_net")
    with pytest.raises(ValueError, match="takes no ffn"):
        ImageClassifier(model_name="resnet18", ffn=MoEMLP)
