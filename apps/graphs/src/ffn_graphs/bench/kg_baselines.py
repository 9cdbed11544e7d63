"""Shallow-embedding baselines for ``ffn-graphs bench-kg``: DistMult and RotatE trained with pykeen.

pykeen is in the root's optional ``bench`` dependency group (``uv sync --group bench``); it is imported
only when a baseline runs. The splits are the same files NBFNet reads; evaluation is pykeen's filtered
rank-based protocol (training and validation triples filtered, head and tail, realistic ranks), which
is NBFNet's protocol in `ffn_graphs.kg`.

Training: reciprocal relations (each triple also trains ``(t, r⁻¹, h)``, so head prediction has its
own relation embeddings, as NBFNet's inverse relations; without them DistMult, which is symmetric,
scores 0.63 filtered MRR on UMLS instead of 0.79), LCWA with a cross-entropy over all entities (1-N
scoring, the strong recipe for small graphs), Adam, batch 128, early stopping on validation MRR
(checked every 10 epochs, patience 3) up to ``max_epochs``; the best checkpoint by validation is what
is tested.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

__all__ = ["BASELINES", "train_baseline"]

#: name → (pykeen model, embedding dim, learning rate)
BASELINES: dict[str, tuple[str, int, float]] = {
    "DistMult": ("DistMult", 200, 1e-2),
    "RotatE": ("RotatE", 200, 1e-2),
}


def train_baseline(
    name: str, folder: str | Path, seed: int, workdir: str | Path, max_epochs: int = 300
) -> dict[str, float]:
    """Train baseline ``name`` on ``folder``'s train/valid/test.txt; filtered test metrics and seconds.

    The early stopper keeps its best weights under ``workdir`` (removed after they are reloaded).
    """
    try:
        from pykeen.pipeline import pipeline
        from pykeen.triples import TriplesFactory
    except ImportError as error:
        raise ImportError(
            "ffn-graphs bench-kg: the DistMult/RotatE baselines need pykeen; install the optional "
            "group with `uv sync --group bench`"
        ) from error
    model, dim, lr = BASELINES[name]
    folder = Path(folder)
    train = TriplesFactory.from_path(folder / "train.txt", create_inverse_triples=True)
    valid, test = (
        TriplesFactory.from_path(
            folder / f"{split}.txt", entity_to_id=train.entity_to_id, relation_to_id=train.relation_to_id
        )
        for split in ("valid", "test")
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    start = time.perf_counter()
    result = pipeline(
        training=train,
        validation=valid,
        testing=test,
        model=model,
        model_kwargs={"embedding_dim": dim},
        training_loop="lcwa",
        loss="crossentropy",
        optimizer="Adam",
        optimizer_kwargs={"lr": lr},
        training_kwargs={"num_epochs": max_epochs, "batch_size": 128, "use_tqdm": False},
        stopper="early",
        stopper_kwargs={
            "frequency": 10,
            "patience": 3,
            "metric": "inverse_harmonic_mean_rank",
            "best_model_path": Path(workdir) / f"{name}-{seed}-best.pt",
        },
        evaluator_kwargs={"filtered": True},
        evaluation_kwargs={"use_tqdm": False},
        random_seed=seed,
        device=device,
    )
    seconds = time.perf_counter() - start
    metric = result.metric_results.get_metric
    return {
        "mrr": float(metric("both.realistic.inverse_harmonic_mean_rank")),
        "hits@1": float(metric("both.realistic.hits_at_1")),
        "hits@3": float(metric("both.realistic.hits_at_3")),
        "hits@10": float(metric("both.realistic.hits_at_10")),
        "epochs": len(result.losses),
        "seconds": seconds,
        "device": torch.cuda.get_device_name() if device == "cuda" else "CPU",
    }
