"""Graphs app of the FFN study: Virgo initialization, NBFNet and FloydNet on `ffn_blocks` with PyG."""

from .data import KnowledgeGraphDataModule, LinkPredictionDataModule, PlanetoidDataModule
from .models.gnn import DeepGNN, initialize
from .models.nbfnet import NBFNet
from .module import KGCompletion, LinkPredictor, NodeClassifier

__all__ = [
    "DeepGNN",
    "KGCompletion",
    "KnowledgeGraphDataModule",
    "LinkPredictionDataModule",
    "LinkPredictor",
    "NBFNet",
    "NodeClassifier",
    "PlanetoidDataModule",
    "initialize",
]
