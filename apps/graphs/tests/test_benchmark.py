"""bench-kg: the table shows every stored run, grouped by model, epochs and device; times that differ
by more than 20 % between seeds show as a range."""

import argparse
import json

import pytest
from lightning.pytorch import Trainer

from ffn_data import fetch
from ffn_graphs.bench.virgo_kg import KGSetting, _kg_run, main, tuned_on_validation
from ffn_graphs.data import KnowledgeGraphDataModule
from ffn_graphs.module import KGCompletion
from ffn_lightning.benchmarking import RunStore


def _run(mrr: float, device: str = "CPU", seconds: float = 10.0) -> dict:
    metrics = {"mrr": mrr, "hits@1": mrr - 0.1, "hits@10": mrr + 0.05}
    return {**metrics, "seconds_per_epoch": seconds, "peak_mb": 100.0, "device": device}


def test_table_groups_stored_runs_by_model_epochs_and_device(tmp_path):
    store = tmp_path / "runs.json"
    runs = {
        "UMLS/NBFNet, 1 epoch/0": _run(0.5),
        "UMLS/NBFNet, 1 epoch/1": _run(0.7, seconds=11.0),
        "UMLS/NBFNet, 4 epochs/0": _run(0.8, seconds=40.0),
        "UMLS/NBFNet, 4 epochs/1": _run(0.8, seconds=10.0),
        "UMLS/NBFNet, 1 epoch [gpu]/0": _run(0.9, "NVIDIA H100"),
        "UMLS/NBFNet (dependent relations), 1 epoch/0": _run(0.95),
        "UMLS/RotatE/0": {"mrr": 0.8, "hits@1": 0.7, "hits@10": 0.9, "epochs": 50, "seconds": 20.0},
    }
    store.write_text(json.dumps(runs))
    out = tmp_path / "BENCH.md"
    # every run asked for is stored, so nothing trains: the bench only renders the table
    args = ["--kg-datasets", "UMLS", "--kg-seeds", "2", "--kg-no-baselines", "--root", str(tmp_path)]
    main(["bench-kg", *args, "--kg-results", str(store), "--output", str(out)])
    rows = [line for line in out.read_text().splitlines() if line.startswith("| UMLS")]
    assert rows[0].startswith("| UMLS | NBFNet, 1 epoch | 2 | 0.600 ± 0.141 |")
    assert "| CPU | 10 s / epoch | 100 |" in rows[0]  # 10 and 11 s: close, so their mean
    assert rows[1].startswith("| UMLS | NBFNet, 4 epochs | 2 | 0.800 ± 0.000 |")
    assert "| CPU | 10–40 s / epoch |" in rows[1]
    assert rows[2].startswith("| UMLS | NBFNet, 1 epoch | 1 | 0.900 |") and "| NVIDIA H100 |" in rows[2]
    assert rows[3].startswith("| UMLS | NBFNet (dependent relations), 1 epoch | 1 | 0.950 |")
    assert rows[4].startswith("| UMLS | RotatE (pykeen) | 1 | 0.800 |") and "20 s (50 epochs)" in rows[4]


def test_first_seed_selects_the_seed_range(tmp_path, monkeypatch):
    import ffn_graphs.bench.virgo_kg as bench

    trained = []
    monkeypatch.setattr(
        bench,
        "_kg_run",
        lambda setting, args, seed, checkpoint: trained.append(seed) or _run(0.5),
    )
    store, out = tmp_path / "runs.json", tmp_path / "BENCH.md"
    store.write_text(json.dumps({"UMLS/NBFNet, 1 epoch/3": _run(0.7)}))
    args = ["--kg-datasets", "UMLS", "--kg-no-baselines", "--root", str(tmp_path), "--output", str(out)]
    main(["bench-kg", *args, "--kg-seeds", "2", "--kg-first-seed", "3", "--kg-results", str(store)])
    assert trained == [4]  # seed 3 was stored, seed 4 was not; seeds 0-2 are outside the range
    assert "| UMLS | NBFNet, 1 epoch | 2 | 0.600 ± 0.141 |" in out.read_text()
    trained.clear()  # query-dependent relations are another setting: both seeds train, in their own key
    main(
        [
            "bench-kg",
            *args,
            "--kg-seeds",
            "2",
            "--kg-first-seed",
            "3",
            "--kg-results",
            str(store),
            "--kg-dependent",
        ]
    )
    assert trained == [3, 4] and "UMLS/NBFNet (dependent relations), 1 epoch/3" in json.loads(
        store.read_text()
    )


@pytest.mark.parametrize("best", [False, True])
def test_an_inductive_run_keeps_weights_that_test_the_same_again(tmp_path, best):
    """The kept checkpoint is the tested model: the last epoch's, or with ``--kg-best-epoch`` the epoch
    of best validation MRR (its weights validate to the score that chose them)."""
    # the head of GraIL's fb237_v1 splits (test triples naming entities outside it are skipped)
    folders = []
    for name in ("fb237_v1", "fb237_v1_ind"):
        folder = tmp_path / name
        folder.mkdir()
        for split, lines in (("train", 300), ("valid", 40), ("test", 40)):
            text = (fetch(name) / f"{split}.txt").read_text().splitlines()[:lines]
            (folder / f"{split}.txt").write_text("\n".join(text) + "\n")
        folders.append(str(folder))
    checkpoint = tmp_path / "run.ckpt"
    args = argparse.Namespace(
        kg_epochs=2 if best else 1,
        kg_accelerator="cpu",
        kg_dependent=True,
        kg_best_epoch=best,
        kg_both_directions=not best,
        kg_mlp_update=not best,
    )
    folder_args = (f"--data.folder={folders[0]}", f"--data.test_folder={folders[1]}")
    setting = KGSetting("fb237_v1", True, "experiments/kg_inductive_WN18RR_v1", folder_args)
    run = _kg_run(setting, args, seed=0, checkpoint=checkpoint)
    assert 0.0 < run["hits@10"] < 1.0  # the expectation over draws, not a rank count
    model = KGCompletion.load_from_checkpoint(checkpoint)
    assert model.hparams.dependent  # the setting asked for is the one trained and kept
    assert model.hparams.train_directions == ("split" if best else "both")
    update = model.model.layers[0].update_ffn  # the reference's linear map, or the flag's MLP
    assert type(update).__name__ == ("Linear" if best else "MLP")
    assert model.hparams.adversarial_temperature == 1.0  # ... over the config's own (WN18RR_v1's)
    data = KnowledgeGraphDataModule(folder=folders[0], test_folder=folders[1], batch_size=64)
    again = Trainer(logger=False, enable_progress_bar=False).test(model, data, verbose=False)[0]
    assert again["test/hits@10"] == pytest.approx(run["hits@10"])
    assert again["test/mrr"] == pytest.approx(run["mrr"])
    if best:
        assert run["best_epoch"] in (0, 1)
        validated = Trainer(logger=False, enable_progress_bar=False).validate(model, data, verbose=False)
        assert validated[0]["val/mrr"] == pytest.approx(run["val_mrr"])
    else:
        assert "best_epoch" not in run


def test_floyd_table_lists_every_stored_budget_in_order_of_training_steps(tmp_path):
    from ffn_graphs.bench.apsp import FIELDS, stored_budgets

    store = RunStore(tmp_path / "apsp.json", fields=FIELDS)

    def put(model, epochs, graphs, seed=0, dim=32, fresh=False, readout="distance", acc=0.9):
        values = (epochs, graphs, dim, 4, fresh, readout, model, seed)
        store.put(dict(zip(FIELDS, values, strict=True)) | {"acc_2x": acc})

    put("FloydNet", 25, 9600, fresh=True)
    put("FloydNet", 25, 1200, readout="next_hop", acc=0.99)
    put("FloydNet", 25, 1200, seed=1)
    put("FloydNet", 25, 1200, acc=0.8)
    put("Other", 25, 1200)  # not a model asked for
    put("FloydNet", 25, 1200, dim=64)  # another width
    put("PairGINE", 25, 1200)
    put("FloydNet", 50, 600)  # as many steps as 25 × 1200, trained on fewer graphs
    put("FloydNet", 25, 9600, fresh=True, readout="next_hop")
    budgets = stored_budgets(store, 32, 4, ["PairGINE", "FloydNet"])
    assert list(budgets) == [
        "25 × 1200, distance",
        "25 × 1200, next hop",
        "50 × 600, distance",
        "25 × 9600 new per epoch, distance",
        "25 × 9600 new per epoch, next hop",
    ]
    assert list(budgets["25 × 1200, distance"]) == ["PairGINE", "FloydNet"]
    assert [r["acc_2x"] for r in budgets["25 × 1200, distance"]["FloydNet"]] == [0.8, 0.9]  # seed order
    assert [r["acc_2x"] for r in budgets["25 × 1200, next hop"]["FloydNet"]] == [0.99]
    assert list(budgets["25 × 9600 new per epoch, distance"]) == ["FloydNet"]


def _virgo(val: float, test: float) -> dict:
    return {"val": val, "test": test}


def test_tuning_picks_the_best_mean_validation_on_the_seeds_every_point_has():
    grid = {
        (0.01, 5e-4): {0: _virgo(0.70, 0.9), 1: _virgo(0.70, 0.9), 2: _virgo(0.99, 0.1)},
        (0.01, 0.0): {0: _virgo(0.72, 0.5), 1: _virgo(0.72, 0.6)},
    }
    # seed 2 exists at one point only, so it cannot tip the choice; the test accuracy never chooses
    assert tuned_on_validation(grid) == ((0.01, 0.0), [50.0, 60.0])
    assert tuned_on_validation({(0.01, 5e-4): grid[0.01, 5e-4]}) is None  # one point: nothing tuned
    assert (
        tuned_on_validation({(0.01, 5e-4): {0: _virgo(0.7, 0.7)}, (0.01, 0.0): {1: _virgo(0.7, 0.7)}}) is None
    )


def test_virgo_table_shows_every_stored_run(tmp_path):
    store, out = tmp_path / "virgo.json", tmp_path / "BENCH.md"
    runs = {
        f"CiteSeer/2/200/0/0.5/0.01/0.0005/{init}/{s}": _virgo(0.7, 0.70 + 0.01 * s)
        for init in ("virgo", "xavier", "kaiming")
        for s in range(2)
    }
    runs |= {
        f"CiteSeer/2/200/0/0.5/0.01/0/{init}/{s}": _virgo(0.8, 0.75)
        for init in ("virgo", "xavier")
        for s in range(2)
    }
    runs |= {
        "CiteSeer/2/200/0/0.5/0.01/0.0005/virgo/2": _virgo(0.7, 0.75),
        "CiteSeer/2/100/0/0.5/0.01/0.0005/virgo/0": _virgo(0.6, 0.6),
        "CiteSeer/2/1000/20/0/0.001/5e-06/xavier/0": _virgo(0.9, 0.65),
    }
    runs |= {f"Cora/16/200/0/0.5/0.01/0.0005/{init}/0": _virgo(0.3, 0.3) for init in ("virgo", "kaiming")}
    runs |= {"Cora/16/200/0/0.5/0.01/0.0005/xavier/0": _virgo(0.2, 0.2)}
    store.write_text(json.dumps(runs))
    # every run asked for is stored, so nothing trains; every stored setting is shown, asked for or not
    argv = ["--datasets", "CiteSeer", "--depths", "2", "--seeds", "2", "--root", str(tmp_path)]
    plot = tmp_path / "virgo.png"
    main(
        ["bench-virgo", *argv, "--virgo-results", str(store), "--output", str(out), "--virgo-plot", str(plot)]
    )
    rows = [line for line in out.read_text().splitlines() if line.startswith(("| Cora", "| CiteSeer"))]
    # last column: the real test split's most frequent class (Cora 319 of 1,000 nodes, CiteSeer 231)
    kipf, short, reference = (
        "200 epochs, dropout 0.5",
        "100 epochs, dropout 0.5",
        "≤ 1000 epochs, patience 20, dropout 0",
    )
    assert (
        rows
        == [
            f"| Cora | {kipf} | 16 | 0.01, 0.0005 | 1 | 30.0 | 20.0 | 30.0 | 31.9 |",
            f"| CiteSeer | {short} | 2 | 0.01, 0.0005 | 1 / 0 / 0 | 60.0 | — | — | 23.1 |",  # its own row: other epochs
            f"| CiteSeer | {kipf} | 2 | 0.01, 0.0005 | 3 / 2 / 2 | 72.0 ± 2.6 | 70.5 ± 0.7 | 70.5 ± 0.7 | 23.1 |",
            f"| CiteSeer | {kipf} | 2 | 0.01, 0 | 2 / 2 / 0 | 75.0 ± 0.0 | 75.0 ± 0.0 | — | 23.1 |",
            # Virgo and Xavier: weight decay 0 wins on validation; Kaiming has one grid point, so it is not tuned
            f"| CiteSeer | {kipf} | 2 | best on val | 2 / 2 / 0 | 75.0 ± 0.0 (0.01, 0) | 75.0 ± 0.0 (0.01, 0) | — | 23.1 |",
            # another training is another setting: one grid point, so no tuned row
            f"| CiteSeer | {reference} | 2 | 0.001, 5e-06 | 0 / 1 / 0 | — | 65.0 | — | 23.1 |",
            # every training's grid points on the seeds they share (0): the training is chosen on validation
            "| CiteSeer | any training | 2 | best on val | 1 / 1 / 0 | 75.0 (200 epochs, dropout 0.5; 0.01, 0) | "
            f"65.0 ({reference}; 0.001, 5e-06) | — | 23.1 |",
        ]
    )
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"Plot: `{plot}`" in out.read_text()


def test_a_store_of_another_key_format_is_named_in_one_line(tmp_path):
    store = tmp_path / "virgo.json"
    store.write_text(json.dumps({"Cora/2/200/virgo/0": 0.8}))
    with pytest.raises(ValueError, match="'Cora/2/200/virgo/0' has 5 '/'-separated fields, expected 9"):
        main(
            [
                "bench-virgo",
                "--datasets",
                "Cora",
                "--seeds",
                "0",
                "--virgo-results",
                str(store),
                "--output",
                "",
            ]
        )


def test_a_gcn_with_patience_stops_that_many_epochs_after_its_best_and_tests_the_best(tmp_path):
    import re

    from ffn_graphs.bench.virgo_kg import Training, _node_run

    training = Training(epochs=1000, patience=5, dropout=0.0)
    run = _node_run("Cora", 2, "virgo", 0, tmp_path, training, lr=0.05, weight_decay=0.0)
    (checkpoint,) = tmp_path.rglob("*.ckpt")  # the best validation epoch, the one tested
    best_epoch = int(re.match(r"epoch=(\d+)", checkpoint.name)[1])
    assert run["trained_epochs"] == best_epoch + 1 + training.patience < training.epochs
    assert run["val"] > 0.7 and run["test"] > 0.7  # a 2-layer GCN learns Cora within those epochs


@pytest.mark.parametrize(
    ("flag", "message"),
    [("--patience=-1", "--patience=-1 must be >= 0"), ("--dropout=1", "--dropout=1.0 must be in")],
)
def test_a_bad_training_flag_is_named_in_one_line(flag, message, capsys):
    with pytest.raises(SystemExit):
        main(["bench-virgo", flag, "--seeds", "0", "--output", ""])
    assert message in capsys.readouterr().err
