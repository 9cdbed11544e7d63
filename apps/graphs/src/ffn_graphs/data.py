"""Graph data: Planetoid node classification and link prediction through PyG's own loaders, and
knowledge graphs from tab-separated triples.

The data layer (`ffn_data.fetch`) downloads the Planetoid files PyG's `Planetoid` reads (pinned,
sha256-verified) into the cache, and PyG's real loader processes them there (public split). Knowledge
graphs are ``head<TAB>relation<TAB>tail`` files ``train.txt``, ``valid.txt``, ``test.txt``: a
registered dataset (UMLS, Kinships, GraIL's inductive splits) or the user's own folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import torch
from filelock import FileLock
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset
from torch_geometric.data import Data
from torch_geometric.datasets import Planetoid
from torch_geometric.transforms import NormalizeFeatures, RandomLinkSplit

from ffn_data import fetch
from ffn_lightning import ResumableDataLoader

from .kg import both_directions, fact_graph

__all__ = [
    "KnowledgeGraphDataModule",
    "LinkPredictionDataModule",
    "PlanetoidDataModule",
    "StageGraph",
    "planetoid",
    "read_triples",
]


class _CachedPlanetoid(Planetoid):
    """PyG's `Planetoid`, reading its raw files from the data layer's folder and processing beside them."""

    def __init__(self, raw: Path, name: str) -> None:
        self._raw = raw
        super().__init__(str(raw), name, split="public", transform=NormalizeFeatures())

    @property
    def raw_dir(self) -> str:
        return str(self._raw)

    @property
    def processed_dir(self) -> str:
        return str(self._raw / "processed" / self.name)

    def download(self) -> None:  # fetched (and verified) before PyG looks
        raise FileNotFoundError(f"{self._raw}: Planetoid raw files missing")


def planetoid(name: Literal["Cora", "CiteSeer"], root: str | Path | None = None) -> Data:
    """The public-split Planetoid graph, processed by PyG's `Planetoid` from the cached raw files.

    Args:
        name: ``"Cora"`` or ``"CiteSeer"``.
        root: the data cache (default: ``$FFN_STUDY_DATA``, else the user cache folder).
    """
    raw = fetch(name, root)
    # PyG writes its processed files in place: one process at a time, the others then read them
    with FileLock(raw / f".{name}.lock"):
        return _CachedPlanetoid(raw, name)[0]


class _FullGraph(LightningDataModule):
    """A single-graph (transductive) DataModule: every stage's "batch" is the whole graph."""

    def _loader(self) -> DataLoader:
        return ResumableDataLoader([self.graph], batch_size=None, collate_fn=lambda d: d)

    def train_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()

    def test_dataloader(self) -> DataLoader:
        return self._loader()


class PlanetoidDataModule(_FullGraph):
    """Cora or CiteSeer with the public split (20 labelled nodes per class, 500 validation, 1,000 test).

    Args:
        name: ``"Cora"`` or ``"CiteSeer"``.
        root: the data cache (default: ``$FFN_STUDY_DATA``, else the user cache folder).
    """

    def __init__(self, name: Literal["Cora", "CiteSeer"] = "Cora", root: str | None = None) -> None:
        super().__init__()
        self.graph = planetoid(name, root)
        self.num_features = self.graph.num_features
        self.num_classes = int(self.graph.y.max()) + 1


class LinkPredictionDataModule(_FullGraph):
    """Link prediction on a Planetoid graph with PyG's `RandomLinkSplit` (85/5/10 %, seeded).

    The training graph holds only training edges; validation and test edges come with as many sampled
    non-edges, and the metrics are AUROC and average precision.

    Args:
        name: ``"Cora"`` or ``"CiteSeer"``.
        root: the data cache (default: ``$FFN_STUDY_DATA``, else the user cache folder).
        seed: seed of the split.
    """

    def __init__(
        self, name: Literal["Cora", "CiteSeer"] = "Cora", root: str | None = None, seed: int = 0
    ) -> None:
        super().__init__()
        graph = planetoid(name, root)
        torch.manual_seed(seed)
        self.train_graph, self.val_graph, self.test_graph = RandomLinkSplit(
            num_val=0.05, num_test=0.10, is_undirected=True, add_negative_train_samples=False
        )(graph)
        self.num_features = graph.num_features

    def train_dataloader(self) -> DataLoader:
        return ResumableDataLoader([self.train_graph], batch_size=None, collate_fn=lambda d: d)

    def val_dataloader(self) -> DataLoader:
        return ResumableDataLoader([self.val_graph], batch_size=None, collate_fn=lambda d: d)

    def test_dataloader(self) -> DataLoader:
        return ResumableDataLoader([self.test_graph], batch_size=None, collate_fn=lambda d: d)


def read_triples(path: str | Path) -> list[tuple[str, str, str]]:
    """``head<TAB>relation<TAB>tail`` lines; a one-line error names the file and line of a bad one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing split file (expected head<TAB>relation<TAB>tail lines)")
    triples = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path}:{number}: expected 3 tab-separated fields, got {len(parts)}")
        triples.append((parts[0].strip(), parts[1].strip(), parts[2].strip()))
    return triples


@dataclass
class StageGraph:
    """What one stage of knowledge-graph completion runs on: the fact graph, the queries, the filter."""

    edge_index: torch.Tensor
    edge_type: torch.Tensor
    num_nodes: int
    queries: torch.Tensor  # (n, 3) triples to predict, tail side; heads via inverse relations
    known: torch.Tensor  # every true triple of this graph (both directions), for filtering


def _encode(
    triples: list[tuple[str, str, str]],
    entities: dict[str, int],
    relations: dict[str, int],
    source: Path,
    unknown: str,
    notices: list[str],
) -> torch.Tensor:
    known = [t for t in triples if t[0] in entities and t[2] in entities and t[1] in relations]
    if len(known) < len(triples):
        message = (
            f"{source}: {len(triples) - len(known)} triples name entities or relations absent from its graph"
        )
        if unknown == "error":
            raise ValueError(message)
        notices.append(message + " (skipped)")
    return torch.tensor(
        [(entities[h], relations[r], entities[t]) for h, r, t in known], dtype=torch.long
    ).reshape(-1, 3)


def _vocabulary(triples: list[tuple[str, str, str]]) -> dict[str, int]:
    return {e: i for i, e in enumerate(sorted({t[0] for t in triples} | {t[2] for t in triples}))}


def _deduplicate(
    triples: list[tuple[str, str, str]], source: Path, notices: list[str]
) -> list[tuple[str, str, str]]:
    duplicates = len(triples) - len(set(triples))
    if duplicates:
        notices.append(f"{source}: {duplicates} duplicated triples dropped")
    return list(dict.fromkeys(triples))


class KnowledgeGraphDataModule(LightningDataModule):
    """Knowledge-graph completion: UMLS by default; any registered graph or folder of train/valid/test.txt.

    Transductive (default): the graph is the training triples (each fact also as its inverse), queries
    are the validation or test triples in both directions, and ranking is filtered over all entities.
    Inductive (GraIL, ``test_dataset`` or ``test_folder`` set, e.g. ``fb237_v1`` with ``fb237_v1_ind``):
    training and validation use the first graph; testing runs on the unseen entities of the test graph,
    whose ``train.txt`` is the observed graph and ``test.txt`` the queries, each ranked among itself and
    ``num_negatives`` sampled entities (`sampled_ranking_metrics`).

    Filters (what may not be a negative) follow the reference code: training negatives exclude the
    training triples only; transductive ranking excludes every split's triples; inductive validation
    excludes the training graph's, inductive testing the test graph's facts.

    Args:
        dataset: a registered graph (``ffn-data list``: UMLS, Kinships, fb237_v1, WN18RR_v1, ...),
            downloaded into ``root`` on first use.
        folder: your own graph's folder of split files; replaces ``dataset``.
        test_dataset: a registered inductive test graph (e.g. ``fb237_v1_ind``; None: transductive).
        test_folder: your own inductive test graph's folder; replaces ``test_dataset``.
        root: the data cache (default: ``$FFN_STUDY_DATA``, else the user cache folder).
        batch_size: training triples per batch.
        eval_batch_size: queries per evaluation batch.
        num_negatives: sampled negatives of the inductive protocol (GraIL: 49, so 50 candidates).
        unknown: evaluation triples naming entities or relations absent from their graph are
            ``"skip"``-ped (and reported) or an ``"error"``.
    """

    def __init__(
        self,
        dataset: str = "UMLS",
        folder: str | None = None,
        test_dataset: str | None = None,
        test_folder: str | None = None,
        root: str | None = None,
        batch_size: int = 64,
        eval_batch_size: int = 32,
        num_negatives: int = 49,
        unknown: Literal["error", "skip"] = "skip",
    ) -> None:
        super().__init__()
        folder_path = Path(folder) if folder is not None else fetch(dataset, root)
        if test_folder is None and test_dataset is not None:
            test_folder = str(fetch(test_dataset, root))
        self.notices: list[str] = []
        train = _deduplicate(read_triples(folder_path / "train.txt"), folder_path / "train.txt", self.notices)
        entities, self.relations = (
            _vocabulary(train),
            {r: i for i, r in enumerate(sorted({t[1] for t in train}))},
        )
        self.num_relations = len(self.relations)  # before inverses
        encode = partial(_encode, relations=self.relations, unknown=unknown, notices=self.notices)
        triples = {"train": encode(train, entities, source=folder_path / "train.txt")}
        triples["valid"] = encode(
            read_triples(folder_path / "valid.txt"), entities, source=folder_path / "valid.txt"
        )
        self.inductive = test_folder is not None
        test_facts, test_queries, test_known, test_nodes = self._test_split(
            encode, triples, entities, folder_path, test_folder
        )
        for notice in self.notices:
            print(f"KnowledgeGraphDataModule: {notice}")
        self.num_entities = len(entities)
        self.batch_size, self.eval_batch_size, self.num_negatives = batch_size, eval_batch_size, num_negatives
        r = self.num_relations
        # What may not be a negative, as in the reference code (KiddoZhu/NBFNet-PyG): training negatives
        # are filtered with the training graph alone, so no validation or test answer is ever known to
        # training; transductive evaluation filters with every split's triples; inductive validation
        # with the training graph, inductive testing with the unseen graph's facts.
        val_known = triples["train"] if self.inductive else test_known
        graph = fact_graph(triples["train"], r)
        self.stages = {
            "train": StageGraph(
                *graph, len(entities), triples["train"], both_directions(triples["train"], r)
            ),
            "val": StageGraph(*graph, len(entities), triples["valid"], both_directions(val_known, r)),
            "test": StageGraph(
                *fact_graph(test_facts, r), test_nodes, test_queries, both_directions(test_known, r)
            ),
        }

    def _test_split(
        self,
        encode: Callable[..., torch.Tensor],
        triples: dict[str, torch.Tensor],
        entities: dict[str, int],
        folder: Path,
        test_folder: str | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """The test stage's fact graph, queries, filter (what may not be a negative) and entity count:
        the unseen graph's in inductive mode, the training graph's otherwise."""
        if test_folder is not None:
            test_path = Path(test_folder)
            test_graph = _deduplicate(
                read_triples(test_path / "train.txt"), test_path / "train.txt", self.notices
            )
            test_entities = _vocabulary(test_graph)
            test_facts = encode(test_graph, test_entities, source=test_path / "train.txt")
            test_queries = encode(
                read_triples(test_path / "test.txt"), test_entities, source=test_path / "test.txt"
            )
            # the reference filters the unseen graph's ranking with its facts only
            return test_facts, test_queries, test_facts, len(test_entities)
        test_queries = encode(read_triples(folder / "test.txt"), entities, source=folder / "test.txt")
        known = torch.cat([triples["train"], triples["valid"], test_queries])
        return triples["train"], test_queries, known, len(entities)

    def train_dataloader(self) -> DataLoader:
        return ResumableDataLoader(
            TensorDataset(self.stages["train"].queries), batch_size=self.batch_size, shuffle=True
        )

    def val_dataloader(self) -> DataLoader:
        return ResumableDataLoader(TensorDataset(self.stages["val"].queries), batch_size=self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return ResumableDataLoader(
            TensorDataset(self.stages["test"].queries), batch_size=self.eval_batch_size
        )
