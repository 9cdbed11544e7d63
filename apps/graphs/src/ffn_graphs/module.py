"""LightningModules of the graphs app: node classification, link prediction, knowledge-graph completion."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision, MulticlassAccuracy

from ffn_blocks import MLP, FeedForwardFactory, auxiliary_loss
from ffn_lightning import register_safe_globals

from .kg import (
    both_directions,
    filtered_ranks,
    non_answers,
    ranking_metrics,
    remove_easy_edges,
    sample_negatives,
    sampled_ranking_metrics,
    split_directions,
    true_tail_mask,
)
from .models.gnn import ConvKind, DeepGNN, InitScheme, initialize
from .models.nbfnet import AggregateKind, MessageKind, NBFNet

__all__ = ["KGCompletion", "LinkPredictor", "NodeClassifier"]


class NodeClassifier(LightningModule):
    """Transductive node classification with a deep GNN and a chosen initialization (Virgo by default).

    Args:
        num_features: node feature width (linked from the data).
        num_classes: classes (linked from the data).
        hidden_features: hidden width.
        depth: message-passing layers (2 to 16).
        conv: ``"gcn"``, ``"sage"`` or ``"gin"``.
        ffn: the GIN update factory.
        init: ``"virgo"``, ``"xavier"`` or ``"kaiming"``, applied with the training graph's statistics.
        dropout: dropout before every layer (on the input features: `nonzero_dropout`, same distribution).
        optimizer: optimizer factory (Kipf & Welling: Adam, lr 0.01, weight decay 5e-4; their code
            decays the first layer only, this factory decays every parameter it is given).
        compile: compile the GNN with ``torch.compile`` (in place, so checkpoint keys do not change);
            off by default, BENCHMARKS.md "CPU training step" shows where it pays.
    """

    def __init__(
        self,
        num_features: int = 1433,
        num_classes: int = 7,
        hidden_features: int = 64,
        depth: int = 2,
        conv: ConvKind = "gcn",
        ffn: FeedForwardFactory = MLP,
        init: InitScheme = "virgo",
        dropout: float = 0.5,
        optimizer: OptimizerCallable = torch.optim.Adam,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = DeepGNN(
            num_features, hidden_features, num_classes, depth=depth, conv=conv, ffn=ffn, dropout=dropout
        )
        if compile:
            self.model.compile()
        self.optimizer_factory = optimizer
        self.init_scheme = init
        self.metrics = torch.nn.ModuleDict(
            {s: MulticlassAccuracy(num_classes, average="micro") for s in ("train_", "val_", "test_")}
        )
        self.variances: list[float] | None = None

    def setup(self, stage: str) -> None:
        # the statistics come from the actual training graph, so initialization waits for the data
        if stage == "fit" and self.trainer is not None and self.trainer.datamodule is not None:
            self.variances = initialize(self.model, self.trainer.datamodule.graph, self.init_scheme)

    def forward(self, graph: Any) -> torch.Tensor:
        """Class logits of every node of ``graph`` (a PyG ``Data`` with ``x`` and ``edge_index``)."""
        return self.model(graph.x, graph.edge_index)

    def _step(self, graph: Any, stage: str) -> torch.Tensor:
        mask = {"train": graph.train_mask, "val": graph.val_mask, "test": graph.test_mask}[stage]
        logits = self(graph)
        loss = F.cross_entropy(logits[mask], graph.y[mask]) + auxiliary_loss(self.model)
        accuracy = self.metrics[f"{stage}_"]
        accuracy(logits[mask], graph.y[mask])
        self.log(f"{stage}/loss", loss, batch_size=int(mask.sum()), prog_bar=stage == "train")
        self.log(f"{stage}/acc", accuracy, batch_size=int(mask.sum()), prog_bar=stage != "train")
        return loss

    def training_step(self, graph: Any, batch_idx: int) -> torch.Tensor:
        return self._step(graph, "train")

    def validation_step(self, graph: Any, batch_idx: int) -> None:
        self._step(graph, "val")

    def test_step(self, graph: Any, batch_idx: int) -> None:
        self._step(graph, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())


class LinkPredictor(LightningModule):
    """Homogeneous link prediction: a GNN encoder, dot-product decoder, AUROC and average precision.

    Training edges are scored against as many fresh random non-edges every step.

    Args:
        compile: compile the encoder with ``torch.compile`` (in place, so checkpoint keys do not change);
            off by default, BENCHMARKS.md "CPU training step" shows where it pays.
    """

    def __init__(
        self,
        num_features: int = 1433,
        hidden_features: int = 128,
        out_features: int = 64,
        depth: int = 2,
        conv: ConvKind = "gcn",
        ffn: FeedForwardFactory = MLP,
        dropout: float = 0.0,
        optimizer: OptimizerCallable = torch.optim.Adam,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.encoder = DeepGNN(
            num_features, hidden_features, out_features, depth=depth, conv=conv, ffn=ffn, dropout=dropout
        )
        if compile:
            self.encoder.compile()
        self.optimizer_factory = optimizer
        metrics = MetricCollection({"auroc": BinaryAUROC(), "ap": BinaryAveragePrecision()})
        self.val_metrics, self.test_metrics = metrics.clone(prefix="val/"), metrics.clone(prefix="test/")

    def _scores(self, graph: Any, pairs: torch.Tensor) -> torch.Tensor:
        z = self.encoder(graph.x, graph.edge_index)
        return (z[pairs[0]] * z[pairs[1]]).sum(-1)

    def training_step(self, graph: Any, batch_idx: int) -> torch.Tensor:
        from torch_geometric.utils import negative_sampling

        positives = graph.edge_label_index
        negatives = negative_sampling(graph.edge_index, graph.num_nodes, positives.shape[1])
        pairs = torch.cat([positives, negatives], dim=1)
        labels = torch.cat([torch.ones(positives.shape[1]), torch.zeros(negatives.shape[1])]).to(pairs.device)
        loss = F.binary_cross_entropy_with_logits(self._scores(graph, pairs), labels)
        self.log("train/loss", loss, batch_size=1, prog_bar=True)
        return loss

    def _evaluate(self, graph: Any, stage: str) -> None:
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(self._scores(graph, graph.edge_label_index).sigmoid(), graph.edge_label.long())
        self.log_dict(metrics, batch_size=1, prog_bar=stage == "val")

    def validation_step(self, graph: Any, batch_idx: int) -> None:
        self._evaluate(graph, "val")

    def test_step(self, graph: Any, batch_idx: int) -> None:
        self._evaluate(graph, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())


class KGCompletion(LightningModule):
    """Knowledge-graph completion with NBFNet: BCE with self-adversarial negatives, ranking metrics.

    Args:
        num_relations: relations of the data, before inverses (linked).
        dim: NBFNet width.
        num_layers: Bellman-Ford iterations.
        message: message function.
        aggregate: aggregation.
        update: update factory (None: NBFNet's default).
        scorer: scorer factory (None: NBFNet's default).
        num_negatives: filtered negatives per positive (reference: 32).
        adversarial_temperature: self-adversarial weighting temperature (reference: 0.5).
        remove_easy_edges: drop the edges that state a training query's answer (reference: yes).
        remove_one_hop: drop every edge between a training query's head and tail instead, whatever its
            relation (the reference's ``remove_one_hop``, on in its FB15k-237 configs).
        dependent: relation vectors computed from the query relation (the reference's ``dependent:
            yes``); False keeps one free vector per relation and layer.
        train_directions: ``"split"`` (the reference's): each training triple is one query, the first
            half of a batch asking for tails, the rest for heads; ``"both"`` (a deviation, twice the
            queries per batch): every triple asked both ways.
        optimizer: optimizer factory (reference: Adam 5e-3).
        compile: compile NBFNet with ``torch.compile`` (in place, so checkpoint keys do not change);
            off by default, BENCHMARKS.md "CPU training step" shows where it pays.
    """

    def __init__(
        self,
        num_relations: int = 46,
        dim: int = 32,
        num_layers: int = 6,
        message: MessageKind = "distmult",
        aggregate: AggregateKind = "pna",
        update: FeedForwardFactory | None = None,
        scorer: FeedForwardFactory | None = None,
        num_negatives: int = 32,
        adversarial_temperature: float = 0.5,
        remove_easy_edges: bool = True,
        remove_one_hop: bool = False,
        dependent: bool = False,
        train_directions: Literal["split", "both"] = "split",
        optimizer: OptimizerCallable = torch.optim.Adam,
        compile: bool = False,
    ) -> None:
        super().__init__()
        if train_directions not in ("split", "both"):
            raise ValueError(f"KGCompletion: train_directions={train_directions!r} is not 'split' or 'both'")
        self.save_hyperparameters()
        self.model = NBFNet(
            2 * num_relations,
            dim=dim,
            num_layers=num_layers,
            message=message,
            aggregate=aggregate,
            update=update,
            scorer=scorer,
            dependent=dependent,
        )
        if compile:
            self.model.compile()
        self.num_relations = num_relations
        self.optimizer_factory = optimizer
        names = ("mrr", "hits@1", "hits@3", "hits@10")
        self.rank_means = torch.nn.ModuleDict(
            {f"{stage}_{name}": MeanMetric() for stage in ("val", "test") for name in names}
        )
        self.generator = torch.Generator().manual_seed(0)

    def _stage(self, stage: str) -> Any:
        return self.trainer.datamodule.stages[stage]

    def _score(
        self, queries: torch.Tensor, graph: Any, edge_index: torch.Tensor, edge_type: torch.Tensor
    ) -> torch.Tensor:
        return self.model(
            queries[:, 0],
            queries[:, 1],
            edge_index.to(self.device),
            edge_type.to(self.device),
            graph.num_nodes,
        )

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        graph = self._stage("train")
        directions = split_directions if self.hparams.train_directions == "split" else both_directions
        queries = directions(batch[0].cpu(), self.num_relations)
        mask = true_tail_mask(queries, graph.known, graph.num_nodes)
        negatives = sample_negatives(mask, self.hparams.num_negatives, self.generator)
        candidates = torch.cat([queries[:, 2:3], negatives], dim=1)  # the answer, then its negatives
        edge_index, edge_type = graph.edge_index, graph.edge_type
        if self.hparams.remove_easy_edges:  # of every candidate, as the reference
            edge_index, edge_type = remove_easy_edges(
                edge_index, edge_type, queries, self.num_relations, self.hparams.remove_one_hop, candidates
            )
        scores = self._score(queries.to(self.device), graph, edge_index, edge_type)  # (B, N)
        scored = scores.gather(1, candidates.to(self.device))
        positive, negative = scored[:, :1], scored[:, 1:]
        weights = F.softmax(negative.detach() / self.hparams.adversarial_temperature, dim=1)
        loss = F.binary_cross_entropy_with_logits(
            positive, torch.ones_like(positive), reduction="none"
        ).squeeze(1)
        loss = loss + (
            weights
            * F.binary_cross_entropy_with_logits(negative, torch.zeros_like(negative), reduction="none")
        ).sum(1)
        loss = loss.mean() + auxiliary_loss(self.model)
        self.log("train/loss", loss, batch_size=len(queries), prog_bar=True)
        return loss

    def _evaluate(self, batch: list[torch.Tensor], stage: str) -> None:
        graph = self._stage(stage)
        queries = both_directions(batch[0].cpu(), self.num_relations)
        scores = self._score(queries.to(self.device), graph, graph.edge_index, graph.edge_type).cpu()
        mask = true_tail_mask(queries, graph.known, graph.num_nodes)
        targets = queries[:, 2]
        ranks = filtered_ranks(scores, targets, mask)
        if stage == "test" and self.trainer.datamodule.inductive:  # GraIL: against sampled negatives
            candidates = non_answers(mask, targets).sum(1)
            metrics = sampled_ranking_metrics(ranks, candidates, self.trainer.datamodule.num_negatives)
        else:
            metrics = ranking_metrics(ranks)
        for name, value in metrics.items():
            metric = self.rank_means[f"{stage}_{name}"]
            metric.update(value, weight=len(ranks))
            self.log(f"{stage}/{name}", metric, batch_size=len(ranks), prog_bar=name == "mrr")

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())


register_safe_globals()  # checkpoints naming these classes load with weights_only=True
