"""ClearerVoice-Studio's MossFormer2_SS weights in `MossFormer2Separator`, name by name.

The official model (``clearvoice.models.mossformer2_ss.mossformer2.MossFormer``) and ours hold the same
tensors under other names and, for its 1×1 ``Conv1d`` layers, another shape (ours are ``Linear``). This
module only renames and reshapes; it never imports ``clearvoice``, so a released checkpoint loads without
it::

    state = torch.load("MossFormer2_SS_16K/last_best_checkpoint.pt")["model"]
    model = MossFormer2Separator()  # the full config: 512/512, 24 layers, kernel 16
    load_clearvoice_state_dict(model, state)

With the weights loaded, ours computes the official model's outputs (``tests/test_official.py`` compares
them within float rounding). ``inv_freq`` of the position encoding is a constant both compute.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import torch
from torch import nn

__all__ = ["clearvoice_name", "load_clearvoice_state_dict"]

Rule = tuple[str, str | Callable[[re.Match[str]], str]]

_TOP: list[Rule] = [
    (r"enc\.conv1d\.weight", "encoder.weight"),
    (r"mask_net\.norm\.(\w+)", r"input_norm.\1"),
    (r"mask_net\.conv1d_encoder\.weight", "bottleneck.weight"),
    (r"mask_net\.pos_enc\.scale", "position.scale"),
    (r"mask_net\.mdl\.intra_mdl\.norm\.(\w+)", r"stack_norm.\1"),
    (r"mask_net\.mdl\.intra_norm\.(\w+)", r"output_norm.\1"),
    (r"mask_net\.conv1d_out\.(\w+)", r"to_masks.\1"),
    (r"mask_net\.conv1_decoder\.weight", "mask_out.weight"),
    (r"mask_net\.prelu\.weight", "output_act.weight"),
    (r"mask_net\.output\.0\.(\w+)", r"mask_tanh.\1"),
    (r"mask_net\.output_gate\.0\.(\w+)", r"mask_gate.\1"),
    (r"dec\.weight", "decoder.weight"),
]
# inside the official ``layers.i`` (MossFormer attention, our ``blocks.2i``): the FFConvM projections are
# ScaleNorm (mdl.0), Linear (mdl.1), SiLU, depthwise-conv skip (mdl.3), dropout
_ATTENTION: list[Rule] = [
    (r"(to_\w+)\.mdl\.0\.g", r"\1.norm.g"),
    (r"(to_\w+)\.mdl\.1\.(\w+)", r"\1.linear.\2"),
    (r"(to_\w+)\.mdl\.3\.sequential\.1\.conv\.weight", r"\1.conv.weight"),
    (r"qk_offset_scale\.(\w+)", r"offset_scale.\1"),
]
# inside the official ``fsmn.i`` (gated FSMN, our ``blocks.2i+1``)
_FSMN: list[Rule] = [
    (r"conv1\.0\.(\w+)", r"down.\1"),
    (r"conv1\.1\.weight", "act.weight"),
    (r"norm([12])\.(\w+)", r"norm\1.\2"),
    (r"conv2\.(\w+)", r"up.\1"),
    (r"gated_fsmn\.(to_[uv])\.mdl\.0\.(\w+)", r"memory.\1.norm.\2"),
    (r"gated_fsmn\.(to_[uv])\.mdl\.1\.(\w+)", r"memory.\1.linear.\2"),
    (r"gated_fsmn\.(to_[uv])\.mdl\.3\.sequential\.1\.conv\.weight", r"memory.\1.conv.weight"),
    (r"gated_fsmn\.fsmn\.linear\.(\w+)", r"memory.memory.fc1.\1"),
    (r"gated_fsmn\.fsmn\.project\.weight", "memory.memory.fc2.weight"),
    (r"gated_fsmn\.fsmn\.conv\.conv([12])\.weight", lambda m: f"memory.memory.memory.{int(m[1]) - 1}.weight"),
    (
        r"gated_fsmn\.fsmn\.conv\.norm([12])\.(\w+)",
        lambda m: f"memory.memory.memory_norms.{int(m[1]) - 1}.{m[2]}",
    ),
    (
        r"gated_fsmn\.fsmn\.conv\.prelu([12])\.weight",
        lambda m: f"memory.memory.memory_acts.{int(m[1]) - 1}.weight",
    ),
]
_STACK = re.compile(r"mask_net\.mdl\.intra_mdl\.mossformerM\.(layers|fsmn)\.(\d+)\.(.+)")
_WRAPPERS = ("module.", "model.")  # DistributedDataParallel, then MossFormer2_SS_16K


def clearvoice_name(name: str) -> str | None:
    """Our parameter name for the official model's ``name`` (None for its constant ``inv_freq``)."""
    for wrapper in _WRAPPERS:
        name = name.removeprefix(wrapper)
    if name == "mask_net.pos_enc.inv_freq":
        return None
    stack = _STACK.fullmatch(name)
    if stack is None:
        rules, prefix, rest = _TOP, "", name
    elif stack[3] == "rotary_pos_emb.freqs":  # one rotary embedding shared by every layer
        return "rotary.freqs"
    elif stack[1] == "layers":
        rules, prefix, rest = _ATTENTION, f"blocks.{2 * int(stack[2])}.", stack[3]
    else:
        rules, prefix, rest = _FSMN, f"blocks.{2 * int(stack[2]) + 1}.", stack[3]
    for pattern, replacement in rules:
        if re.fullmatch(pattern, rest):
            return prefix + re.sub(pattern, replacement, rest)
    raise ValueError(f"ClearerVoice state dict: no MossFormer2Separator parameter for {name!r}")


def load_clearvoice_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Copy an official MossFormer2_SS state dict into ``model`` (a `MossFormer2Separator`), strictly.

    Raises:
        ValueError: a name that has no counterpart, a shape that differs (another config), or a
            parameter of ``model`` the state dict leaves unset.
    """
    ours = model.state_dict(keep_vars=True)
    loaded = {}
    for name, tensor in state_dict.items():
        target = clearvoice_name(name)
        if target is None:
            continue
        if target not in ours:
            raise ValueError(f"ClearerVoice state dict: {name!r} maps to {target!r}, which the model lacks")
        if tensor.numel() != ours[target].numel():
            raise ValueError(
                f"ClearerVoice state dict: {name!r} has shape {tuple(tensor.shape)}, the model's {target!r} "
                f"{tuple(ours[target].shape)} (another config?)"
            )
        loaded[target] = tensor.reshape(ours[target].shape)
    by_tensor = {id(ours[target]): tensor for target, tensor in loaded.items()}
    for name, value in ours.items():  # a module registered twice (the shared rotary): every alias
        if name not in loaded and id(value) in by_tensor:
            loaded[name] = by_tensor[id(value)]
    unset = sorted(set(ours) - set(loaded))
    if unset:
        raise ValueError(f"ClearerVoice state dict: no value for {', '.join(unset[:3])} ({len(unset)} unset)")
    model.load_state_dict(loaded)
