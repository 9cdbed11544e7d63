"""Vision app of the FFN study: RePaViT and PoolFormer on `ffn_blocks`, registered in timm.

Importing ``ffn_vision`` registers ``ffn_repavit_*`` and ``ffn_poolformer_*`` in timm's model registry,
so ``timm.create_model("ffn_repavit_small_patch16_224", ffn=ffn_blocks.SwiGLU)`` works.
"""

from . import models

__all__ = ["models"]
