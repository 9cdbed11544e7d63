"""A user's own knowledge graph (``train/valid/test.txt``), transductive and in GraIL's inductive layout
(a second folder whose ``train.txt`` is the unseen graph and ``test.txt`` its queries), trains whole
epochs and tests through ``ffn-graphs kg``."""

import csv

import numpy as np

from ffn_graphs.cli import main


def _write_graph(folder, entities, seed, triples=120):
    """A random graph over ``entities`` with 3 relations, split 80/10/10 (every split's entities seen in
    training, as a KG's standard splits are)."""
    rng = np.random.default_rng(seed)
    rows = sorted(
        {(f"e{h}", f"r{r}", f"e{t}") for h, r, t in rng.integers(0, [entities, 3, entities], (triples, 3))}
    )
    rows = [row for row in rows if row[0] != row[2]]
    order = rng.permutation(len(rows))
    splits = {
        "train": order[: int(0.8 * len(rows))],
        "valid": order[int(0.8 * len(rows)) : int(0.9 * len(rows))],
    }
    splits["test"] = order[int(0.9 * len(rows)) :]
    folder.mkdir(parents=True)
    for name, index in splits.items():
        (folder / f"{name}.txt").write_text("".join("\t".join(rows[i]) + "\n" for i in index))


def _fit_and_test(configs, workdir, *data):
    args = ["--config", str(configs / "kg_tiny.yaml"), *data, "--trainer.limit_train_batches", "1.0"]
    args += ["--trainer.limit_val_batches", "1.0", "--trainer.limit_test_batches", "1.0"]
    main(["kg", "fit", *args, "--trainer.max_epochs", "2", "--trainer.enable_checkpointing", "true"])
    with open(next(workdir.glob("runs/graphs-kg/csv/version_0/metrics.csv"))) as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows if row.get("val/mrr")] == ["0", "1"]
    checkpoint = next(workdir.glob("runs/graphs-kg/**/checkpoints/*.ckpt"))
    main(["kg", "test", *args, "--ckpt_path", str(checkpoint)])
    with open(next(workdir.glob("runs/graphs-kg/csv/version_1/metrics.csv"))) as file:
        (tested,) = [row for row in csv.DictReader(file) if row.get("test/mrr")]
    return tested


def test_a_user_knowledge_graph_folder_trains_and_tests(configs, in_tmp_dir):
    _write_graph(in_tmp_dir / "kg", entities=30, seed=0)
    tested = _fit_and_test(configs, in_tmp_dir, "--data.folder", str(in_tmp_dir / "kg"))
    assert 0 < float(tested["test/mrr"]) <= 1 and float(tested["test/hits@10"]) >= float(
        tested["test/hits@1"]
    )


def test_the_inductive_test_folder_layout_trains_and_tests_on_unseen_entities(configs, in_tmp_dir):
    _write_graph(in_tmp_dir / "kg", entities=30, seed=1)
    _write_graph(in_tmp_dir / "kg_ind", entities=20, seed=2)  # its own entities, same relations
    data = ["--data.folder", str(in_tmp_dir / "kg"), "--data.test_folder", str(in_tmp_dir / "kg_ind")]
    tested = _fit_and_test(configs, in_tmp_dir, *data, "--data.num_negatives", "9")
    assert 0 < float(tested["test/mrr"]) <= 1 and 0 < float(tested["test/hits@10"]) <= 1
