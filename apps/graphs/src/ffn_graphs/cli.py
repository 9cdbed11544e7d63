"""`ffn-graphs`: Lightning's CLI for the graph tasks, chosen by the first argument.

    ffn-graphs nodes fit --config default.yaml --model.init xavier --model.depth 16
    ffn-graphs links fit --config links.yaml
    ffn-graphs kg fit --config kg.yaml --model.update SwiGLU
    ffn-graphs floyd fit --config floyd.yaml          # FloydNet, all-pairs shortest paths
    ffn-graphs tsp fit --config tsp.yaml              # FloydNet, Euclidean TSP tours
    ffn-graphs bench-virgo | bench-kg | bench-floyd | bench-tsp | bench-determinism

Without a task name, ``nodes`` is assumed. Data-derived sizes (features, classes, relations) are linked
from the DataModule into the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from ffn_lightning import FFNLightningCLI, Slot, StudyApp, app_main, task_cli

from .data import KnowledgeGraphDataModule, LinkPredictionDataModule, PlanetoidDataModule
from .floyd import APSPData, FloydAPSP
from .module import KGCompletion, LinkPredictor, NodeClassifier
from .tsp import TSPData, TSPEdges

__all__ = ["KGCLI", "STUDY", "LinkCLI", "NodeCLI", "cli", "main"]

#: the configs shipped inside the package (``--config NAME`` finds them from any directory)
CONFIGS = Path(__file__).resolve().parent / "configs"


class NodeCLI(FFNLightningCLI):
    """Node classification on Planetoid graphs."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.num_features", "model.num_features", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")


class LinkCLI(FFNLightningCLI):
    """Link prediction on Planetoid graphs."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.num_features", "model.num_features", apply_on="instantiate")


class KGCLI(FFNLightningCLI):
    """Knowledge-graph completion with NBFNet."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.num_relations", "model.num_relations", apply_on="instantiate")


TASKS = {
    "nodes": (NodeCLI, NodeClassifier, PlanetoidDataModule),
    "links": (LinkCLI, LinkPredictor, LinkPredictionDataModule),
    "kg": (KGCLI, KGCompletion, KnowledgeGraphDataModule),
    "floyd": (FFNLightningCLI, FloydAPSP, APSPData),
    "tsp": (FFNLightningCLI, TSPEdges, TSPData),
}


#: ``ffn-graphs <command>``: entry points imported only when their command runs
COMMANDS = {
    "bench-virgo": "ffn_graphs.bench.virgo_kg:virgo",
    "bench-kg": "ffn_graphs.bench.virgo_kg:kg",
    "bench-floyd": "ffn_graphs.bench.apsp:main",
    "bench-determinism": "ffn_graphs.bench.determinism:main",
    "bench-tsp": "ffn_graphs.bench.tsp:main",
}


def cli(args: Sequence[str] | None = None, *, run: bool = True) -> LightningCLI | None:
    """``ffn-graphs`` as a function; returns the CLI (``run=False``: built, not run)."""
    return task_cli(
        args,
        script="ffn-graphs",
        tasks=TASKS,
        default="nodes",
        commands=COMMANDS,
        config_dir=CONFIGS,
        run=run,
    )


#: entry point of the console script
main = app_main(cli)


STUDY = StudyApp(
    name="graphs",
    cli=cli,
    configs=CONFIGS,
    task=("nodes",),
    block_argument="--model.ffn",
    fixed_arguments=("--model.conv", "gin"),  # GIN is the conv with an FFN inside
    metric="test/acc",
    higher_is_better=True,
    config_tasks={
        "kg": ("kg",),
        "experiments/kg": ("kg",),
        "links": ("links",),
        "floyd": ("floyd",),
        "tsp": ("tsp",),
    },
    study_config="study.yaml",
    run_dir="graphs-nodes",
    slots=(
        Slot(
            "model.network",
            ("ffn_graphs.models.floydnet.FloydNet", "ffn_graphs.floyd.PairGINE"),
            config="floyd_tiny.yaml",
            init_args={"in_features": 3, "out_features": 13},
        ),
        Slot(
            "model.network",
            ("ffn_graphs.models.floydnet.FloydNet",),
            config="tsp_tiny.yaml",
            init_args={"in_features": 3, "out_features": 1},
        ),
    ),
)


if __name__ == "__main__":
    main()
