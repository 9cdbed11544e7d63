"""Ours against ClearerVoice-Studio's MossFormer2_SS code, the oracle (``make official-speech``).

The official package pins numpy<2, so it lives in its own locked environment (the ``official-speech``
dependency group, which conflicts with ``bench``); in the default environment these tests skip, except
the loader's errors, which need no official code.
"""

import math

import pytest
import torch

from ffn_speech.models import MossFormer2Separator, load_clearvoice_state_dict
from ffn_speech.models.clearvoice import clearvoice_name
from ffn_speech.models.separator import count_parameters


def _official():
    module = pytest.importorskip("clearvoice.models.mossformer2_ss.mossformer2")
    return module.MossFormer


def _pair(width: int, layers: int) -> tuple[torch.nn.Module, MossFormer2Separator]:
    """The official model (its fixed inner widths) and ours at the same encoder width and depth."""
    official = _official()(in_channels=width, out_channels=width, num_blocks=layers, kernel_size=16)
    return official, MossFormer2Separator(encoder_dim=width, dim=width, num_layers=layers)


def test_full_config_has_the_official_parameter_count():
    official, ours = _pair(512, 24)
    assert count_parameters(official) == count_parameters(ours) == 55_735_410


@pytest.mark.parametrize(("layers", "length"), [(1, 4000), (2, 8000), (2, 2999)])
def test_official_weights_give_the_official_outputs(layers, length):
    torch.manual_seed(0)
    official, ours = _pair(64, layers)
    with torch.no_grad():  # move every tensor off its init (norm gains of 1, zero biases) so none hides
        for p in official.parameters():
            p.add_(0.1 * torch.randn_like(p))
    load_clearvoice_state_dict(ours, official.state_dict())
    official.eval(), ours.eval()
    mixture = torch.randn(2, length)
    expected = torch.stack(official(mixture), dim=1)
    got = ours(mixture)
    assert got.shape == expected.shape == (2, 2, length)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    # and the gradients, so training follows the same function
    expected.square().mean().backward()
    got.square().mean().backward()
    ours_params = dict(ours.named_parameters())
    for name, p in official.named_parameters():
        target = clearvoice_name(name)
        if p.requires_grad and target is not None:
            torch.testing.assert_close(
                ours_params[target].grad.reshape(p.shape), p.grad, rtol=1e-3, atol=1e-6
            )


def test_initialization_has_the_official_distributions():
    """Per tensor, the same mean and spread at init (both draw PyTorch's defaults and the same constants)."""
    torch.manual_seed(0)
    official, ours = _pair(256, 2)
    ours_params = dict(ours.named_parameters())
    for name, p in official.named_parameters():
        q = ours_params[clearvoice_name(name)].detach()
        if p.numel() == 1:
            torch.testing.assert_close(q.reshape(p.shape), p.detach())
            continue
        std = p.detach().std().item()
        assert q.std().item() == pytest.approx(std, rel=0.15, abs=1e-6), name
        assert abs(q.mean().item() - p.detach().mean().item()) <= 6 * std / math.sqrt(p.numel()) + 1e-6, name


def test_checkpoint_prefixes_of_the_released_wrapper_load():
    official, ours = _pair(64, 1)
    wrapped = {f"module.model.{k}": v for k, v in official.state_dict().items()}
    load_clearvoice_state_dict(ours, wrapped)
    torch.testing.assert_close(ours.encoder.weight, official.enc.conv1d.weight)


def test_loader_names_what_does_not_fit():
    ours = MossFormer2Separator(encoder_dim=16, dim=16, num_layers=1)
    with pytest.raises(ValueError, match=r"no MossFormer2Separator parameter for 'mask_net\.extra'"):
        load_clearvoice_state_dict(ours, {"mask_net.extra": torch.zeros(1)})
    with pytest.raises(ValueError, match=r"'enc.conv1d.weight' has shape \(32, 1, 16\).*another config"):
        load_clearvoice_state_dict(ours, {"enc.conv1d.weight": torch.zeros(32, 1, 16)})
    with pytest.raises(ValueError, match="no value for"):
        load_clearvoice_state_dict(ours, {"enc.conv1d.weight": torch.zeros(16, 1, 16)})
