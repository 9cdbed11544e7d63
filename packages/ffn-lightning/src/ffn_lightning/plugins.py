"""`LastDimBatchNormSync`: Lightning's layer-sync plugin for BatchNorm that works on CPU (gloo) too.

``Trainer(sync_batchnorm=True)`` converts BatchNorms to `torch.nn.SyncBatchNorm`, which DDP refuses on
CPU ("SyncBatchNorm layers only work with GPU modules"). This plugin instead switches every
`ffn_blocks.LastDimBatchNorm` to its own synchronized mode (one differentiable all-reduce per layer,
any backend) and converts other BatchNorms with torch's converter only when the model is on a GPU.
Use it in place of ``sync_batchnorm``: ``--trainer.plugins ffn_lightning.LastDimBatchNormSync``.
"""

from __future__ import annotations

from lightning.pytorch.plugins import LayerSync, TorchSyncBatchNorm
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn

from ffn_blocks import LastDimBatchNorm

__all__ = ["LastDimBatchNormSync"]


class LastDimBatchNormSync(LayerSync):
    """Synchronize BatchNorm statistics across processes, CPU included."""

    def apply(self, model: nn.Module) -> nn.Module:
        others = []
        for module in model.modules():
            if isinstance(module, LastDimBatchNorm):
                module.sync = True
            elif isinstance(module, nn.modules.batchnorm._BatchNorm) and not _inside_last_dim(model, module):
                others.append(module)
        if others:
            if any(p.is_cuda for p in model.parameters()):
                return TorchSyncBatchNorm().apply(model)
            rank_zero_warn(
                f"LastDimBatchNormSync: {len(others)} BatchNorm layer(s) other than LastDimBatchNorm stay "
                "per-process on CPU (torch's SyncBatchNorm needs GPUs)"
            )
        return model

    def revert(self, model: nn.Module) -> nn.Module:
        for module in model.modules():
            if isinstance(module, LastDimBatchNorm):
                module.sync = False
        return TorchSyncBatchNorm().revert(model)


def _inside_last_dim(model: nn.Module, bn: nn.Module) -> bool:
    return any(isinstance(m, LastDimBatchNorm) and m.bn is bn for m in model.modules())
