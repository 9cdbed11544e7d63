"""Vision models on the shared FFN blocks; importing this module registers them in timm."""

from .poolformer import POOLFORMER_SIZES, PoolFormer, PoolFormerBlock
from .repavit import REPAVIT_SIZES, create_repavit
from .vit_block import FFNBlock

__all__ = ["POOLFORMER_SIZES", "REPAVIT_SIZES", "FFNBlock", "PoolFormer", "PoolFormerBlock", "create_repavit"]
