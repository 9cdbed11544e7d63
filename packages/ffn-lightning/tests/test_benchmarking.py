"""Benchmark helpers and the core benchmark script, at toy sizes."""

import datetime as dt
import math
import re
import time

import pytest
import torch

from ffn_lightning.bench.blocks import default_cases, main
from ffn_lightning.benchmarking import (
    RunStore,
    interleaved_latency,
    machine_description,
    markdown_table,
    mean_std,
    measurement,
    parameter_count,
    provenance,
    quiet_trainer,
    train_missing,
    update_markdown_section,
)


def test_interleaved_latency_ranks_slower_callables_slower():
    result = interleaved_latency({"fast": lambda: None, "slow": lambda: time.sleep(0.01)}, rounds=3)
    assert result["slow"] >= 0.01 > result["fast"]


def test_interleaved_latency_rotates_the_order():
    calls = []
    interleaved_latency({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=2, warmup=0)
    assert calls == ["a", "b", "b", "a"]


def test_interleaved_latency_lets_every_case_follow_every_other():
    calls = []
    interleaved_latency({k: (lambda k=k: calls.append(k)) for k in "abc"}, rounds=6, warmup=0)
    rounds = [calls[i : i + 3] for i in range(0, 18, 3)]
    follows = {(r[i], r[i + 1]) for r in rounds for i in range(2)}
    assert follows == {(x, y) for x in "abc" for y in "abc" if x != y}


def test_markdown_section_is_replaced_not_duplicated(tmp_path):
    path = tmp_path / "B.md"
    path.write_text("# Benchmarks\n\nintro\n")
    update_markdown_section(path, "x", "first")
    update_markdown_section(path, "y", "other")
    update_markdown_section(path, "x", "second")
    text = path.read_text()
    assert text.count("<!-- x:start -->") == 1 and "second" in text and "first" not in text
    assert "other" in text and text.startswith("# Benchmarks\n\nintro")


def test_markdown_table_shape():
    table = markdown_table(["a", "b"], [["x", 1], ["y", 2]]).splitlines()
    assert table[1] == "| --- | ---: |" and table[3] == "| y | 2 |"


def test_core_benchmark_writes_every_case(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    main(
        [
            "--tokens",
            "32",
            "--width",
            "32",
            "--hidden",
            "64",
            "--rounds",
            "1",
            "--warmup",
            "0",
            "--results",
            str(tmp_path / "blocks.json"),
            "--output",
            str(out),
        ]
    )
    text = out.read_text()
    for case in default_cases():
        assert f"| {case.label} |" in text
    mlp_row = next(line for line in text.splitlines() if line.startswith("| MLP |"))
    assert mlp_row.split("|")[5].strip() == "1.00"  # × MLP of MLP itself


def test_core_benchmark_rejects_bad_sizes(capsys):
    with pytest.raises(SystemExit):
        main(["--tokens", "0"])
    assert "--tokens=0 must be a positive integer" in capsys.readouterr().err


def test_size_for_parameters_finds_the_closest_size():
    from torch import nn

    from ffn_lightning.benchmarking import size_for_parameters

    def linear(width: int) -> nn.Module:  # width * width + width parameters
        return nn.Linear(width, width)

    assert size_for_parameters(linear, 100 * 100 + 100) == 100  # exact hit, found by doubling then bisection
    assert size_for_parameters(linear, 100 * 100 + 160) == 100  # 10,100 is nearer than 10,302
    assert size_for_parameters(linear, 101 * 101 + 60) == 101
    assert size_for_parameters(linear, 10, low=8) == 8  # never below low


def test_peak_memory_bytes_counts_temporaries_freed_before_the_end():
    from ffn_lightning.benchmarking import peak_memory_bytes

    def work():
        a = torch.ones(1 << 20)  # 4 MiB
        b = a * 2  # 4 MiB more, both live
        del a, b
        return torch.ones(1 << 18).sum()  # 1 MiB, freed: the peak is the 8 MiB above

    peak = peak_memory_bytes(work)
    assert 8 << 20 <= peak < 9 << 20
    assert peak_memory_bytes(lambda: torch.ones(1 << 22)) >= 16 << 20  # 16 MiB, kept alive by the return


def test_epoch_timer_times_every_training_epoch():
    from lightning.pytorch import Trainer
    from lightning.pytorch.demos.boring_classes import BoringModel

    from ffn_lightning.benchmarking import EpochTimer

    timer = EpochTimer()
    trainer = Trainer(
        max_epochs=3,
        limit_train_batches=2,
        limit_val_batches=0,
        callbacks=[timer],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(BoringModel())
    assert len(timer.seconds) == 3 and all(s > 0 for s in timer.seconds)
    assert timer.mean == pytest.approx(sum(timer.seconds) / 3)


def test_mean_std_uses_the_sample_std_and_shows_one_seed_alone():
    assert mean_std([1.0, 2.0, 3.0], digits=2) == "2.00 ± 1.00"  # sample std of 1, 2, 3 is 1
    assert mean_std([0.8812], digits=3) == "0.881"


def test_run_store_keeps_runs_another_bench_stored_meanwhile(tmp_path):
    path = tmp_path / "results" / "bench.json"
    mine, theirs = RunStore(path), RunStore(path)
    mine.put("a/0", 0.5)
    theirs.put("b/0", 0.4)  # another bench writing the same file
    mine.put("a/1", 0.7)
    assert mine.load() == {"a/0": 0.5, "b/0": 0.4, "a/1": 0.7}
    assert "b/0" in mine and "c/0" not in mine and mine["a/1"] == 0.7
    with pytest.raises(KeyError, match=r"bench\.json: no stored run 'c/0'"):
        mine["c/0"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["bench.json", "bench.json.lock"]  # no partial


def _put_many(path, worker: int, count: int) -> None:
    store = RunStore(path)
    for i in range(count):
        store.put(f"w{worker}/{i}", i)


def test_run_store_loses_no_run_when_processes_write_at_once(tmp_path):
    import multiprocessing

    path, workers, count = tmp_path / "bench.json", 4, 25
    context = multiprocessing.get_context("fork")  # quick to start (POSIX; the lock also runs on Windows)
    processes = [context.Process(target=_put_many, args=(path, w, count)) for w in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * workers
    assert len(RunStore(path).load()) == workers * count  # without the lock, writes overwrite each other


def test_run_store_names_a_key_of_another_format(tmp_path):
    store = RunStore(tmp_path / "bench.json")
    assert (
        store.split_key("Cora/2/200/virgo/0", ("dataset", "layers", "epochs", "init", "seed"))[3] == "virgo"
    )
    with pytest.raises(ValueError, match=r"bench\.json: stored key 'Cora/2/virgo/0' has 4 .* expected 5"):
        store.split_key("Cora/2/virgo/0", ("dataset", "layers", "epochs", "init", "seed"))


def test_a_stored_run_says_where_and_when_it_was_measured_and_a_section_shows_it(tmp_path, monkeypatch):
    from ffn_lightning import benchmarking

    store = RunStore(tmp_path / "bench.json")
    store.put("a", {"mrr": 0.5})
    store.put("gpu", {"mrr": 0.6, "machine": "NVIDIA H100", "date": "2026-01-02"})  # named by the bench
    assert store["a"] == {"machine": machine_description(), "date": dt.date.today().isoformat(), "mrr": 0.5}
    assert provenance(store.load().values()) == (
        "; ".join(sorted({"NVIDIA H100", machine_description()})),
        dt.date.today().isoformat(),
    )
    monkeypatch.setattr(benchmarking, "machine_description", lambda: "elsewhere")
    path = tmp_path / "B.md"
    update_markdown_section(path, "x", "body", updated="2026-01-02")
    assert "_Updated 2026-01-02._" in path.read_text()  # the runs' date, not the rendering's


def test_a_timing_bench_renders_from_its_store_without_measuring(tmp_path, capsys):
    store = RunStore(tmp_path / "timing.json", fields=("rounds",))
    measured = measurement(store, {"rounds": 3}, lambda: {"seconds": 1.5}, from_store=False)
    assert measured["seconds"] == 1.5 and store.select(rounds=3) == [measured]

    def refuse():
        raise AssertionError("measured although the store holds the run")

    assert measurement(store, {"rounds": 3}, refuse, from_store=True) == measured
    with pytest.raises(SystemExit) as exit_:
        measurement(store, {"rounds": 5}, refuse, from_store=True)
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1
    assert re.search(r"timing\.json: no run stored for \{'rounds': 5\}", error)


def test_run_store_of_records_files_them_by_their_fields_and_finds_them_without_parsing(tmp_path):
    store = RunStore(tmp_path / "bench.json", fields=("dataset", "model", "seed"))
    store.put({"dataset": "UMLS", "model": "NBFNet", "seed": 0, "mrr": 0.9})
    store.put({"dataset": "UMLS", "model": "RotatE", "seed": 0, "mrr": 0.8})
    store.put({"dataset": "UMLS", "model": "NBFNet", "seed": 0, "mrr": 0.95})  # the same setting: replaced
    assert "UMLS/NBFNet/0" in store and len(store.load()) == 2
    assert [r["mrr"] for r in store.select(model="NBFNet")] == [0.95]
    assert (
        store.select(seed=0, model="RotatE")[0].items()
        >= {
            "dataset": "UMLS",
            "model": "RotatE",
            "seed": 0,
            "mrr": 0.8,
        }.items()
    )
    grid = [{"dataset": "UMLS", "model": m, "seed": s} for s in (0, 1) for m in ("NBFNet", "RotatE")]
    assert store.missing(grid) == grid[2:]
    with pytest.raises(ValueError, match=r"lacks the field.*seed"):
        store.put({"dataset": "UMLS", "model": "NBFNet", "mrr": 1.0})
    with pytest.raises(ValueError, match="may not contain '/'"):
        store.put({"dataset": "a/b", "model": "NBFNet", "seed": 0})
    (tmp_path / "old.json").write_text('{"UMLS/NBFNet/3": {"mrr": 0.5}}')  # a run stored by key alone
    assert RunStore(tmp_path / "old.json", fields=("dataset", "model", "seed")).select(model="NBFNet") == [
        {"dataset": "UMLS", "model": "NBFNet", "seed": "3", "mrr": 0.5}
    ]


def test_paired_bootstrap_interval_covers_the_mean_and_excludes_zero_only_for_a_clear_effect():
    from ffn_lightning.benchmarking import paired_bootstrap_interval

    clear = [0.9, 1.1, 1.0, 0.95, 1.05]
    mean, low, high = paired_bootstrap_interval(clear)
    assert mean == pytest.approx(1.0) and 0.9 <= low < mean < high <= 1.1
    noisy = [1.0, -1.2, 0.3, -0.4, 0.2]
    _, low, high = paired_bootstrap_interval(noisy)
    assert low < 0 < high
    assert paired_bootstrap_interval(clear) == paired_bootstrap_interval(clear)  # seeded: reproducible
    single = paired_bootstrap_interval([0.5])
    assert single[0] == 0.5 and all(math.isnan(v) for v in single[1:])


def test_study_difference_to_mlp_is_paired_by_seed_and_signed_so_positive_is_better():
    from types import SimpleNamespace

    from ffn_lightning.bench.study import _difference_to_mlp

    mlp = [{"seed": s, "metric": m} for s, m in enumerate([0.40, 0.42, 0.41])]
    better_mse = [{"seed": s, "metric": m - 0.02} for s, m in enumerate([0.40, 0.42, 0.41])]
    text, beats = _difference_to_mlp(SimpleNamespace(higher_is_better=False), better_mse, mlp)
    assert beats and text.startswith("+0.0200") and text.endswith("*")
    text, beats = _difference_to_mlp(SimpleNamespace(higher_is_better=True), better_mse, mlp)
    assert not beats and text.startswith("-0.0200") and text.endswith("*")  # significantly worse
    one, beats = _difference_to_mlp(SimpleNamespace(higher_is_better=True), better_mse[:1], mlp)
    assert one.endswith("(1 seed)") and not beats


def test_study_shows_diverged_runs_and_never_counts_their_block_as_better():
    from types import SimpleNamespace

    from ffn_lightning.bench.study import _difference_to_mlp, _metric_cell

    mlp = [{"seed": s, "metric": m} for s, m in enumerate([2.0, 2.2, 2.1])]
    block = [{"seed": s, "metric": m} for s, m in enumerate([3.0, float("nan"), 3.1, 3.2])]
    assert _metric_cell(block) == "3.1000 ± 0.1000 (1 of 4 diverged)"
    text, beats = _difference_to_mlp(SimpleNamespace(higher_is_better=True), block, mlp)
    assert text.startswith("+1.0000") and text.endswith("*") and not beats  # clearly higher, yet diverged
    assert _metric_cell([{"seed": 0, "metric": float("inf")}]) == "— (1 of 1 diverged)"


def test_study_notes_a_block_that_is_the_same_network_as_another():
    from ffn_lightning.bench.study import _same_networks

    def runs(*metrics, params=100):
        return [{"seed": s, "metric": m, "params": params} for s, m in enumerate(metrics)]

    results = {
        "MLP": runs(0.5, 0.6),
        "LowRankMLP": runs(0.7, 0.8),
        "BlockDenseMLP": runs(0.7, 0.8),  # the same per-seed runs: one network
        "KANLayer": runs(0.7, 0.8, params=90),  # the same metrics at another size: a coincidence
    }
    (note,) = _same_networks(results)
    assert "*BlockDenseMLP* is the same network as *LowRankMLP*" in note


def test_study_trains_only_what_its_store_lacks_and_files_records(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from rich.console import Console

    import ffn_lightning.bench.study as study

    calls = []

    def run(app, block, hidden, root, spectral, seed):
        calls.append((block, seed, spectral))
        return {"metric": 0.5, "hidden": hidden, "params": 100}

    references = []
    monkeypatch.setattr(
        study, "_reference_ffn", lambda app, root, match: references.append(app) or (8, 8, 200)
    )
    monkeypatch.setattr(study, "_run", run)
    store = RunStore(tmp_path / "study.json", fields=("app", "block", "seed"))
    store.put({"app": "toy", "block": "MLP", "seed": 0, "metric": 0.4, "hidden": 12, "params": 200})
    args = SimpleNamespace(seeds=2, blocks=["MLP", "SwiGLU"], output=str(tmp_path), match="params")
    study._train_missing({"toy": SimpleNamespace()}, args, store, Console(quiet=True))
    assert calls == [("SwiGLU", 0, False), ("MLP", 1, False), ("SwiGLU", 1, False)]  # MLP seed 0 was stored
    assert len(references) == 1  # the app's reference FFN is built once, not per run
    assert [r["seed"] for r in store.select(app="toy", block="SwiGLU")] == [0, 1]
    assert store.select(app="toy", block="MLP", seed=0)[0]["metric"] == 0.4  # kept, not retrained


def test_first_batch_sets_up_the_stage_and_reads_its_loader():
    from ffn_lightning.benchmarking import first_batch

    class Data:
        def __init__(self):
            self.calls = []

        def prepare_data(self):
            self.calls.append("prepare")

        def setup(self, stage):
            self.calls.append(stage)

        def train_dataloader(self):
            return iter([("train", 0), ("train", 1)])

        def test_dataloader(self):
            return iter([("test", 0)])

    data = Data()
    assert first_batch(data) == ("train", 0) and data.calls == ["prepare", "fit"]
    assert first_batch(data, "test") == ("test", 0) and data.calls[2:] == ["prepare", "test"]


def test_train_missing_trains_only_what_the_store_lacks_and_keeps_each_run(tmp_path):
    store = RunStore(tmp_path / "runs.json", fields=("size", "model", "seed"))
    store.put({"size": 2, "model": "a", "seed": 0, "loss": 9.0})  # already trained: never trained again
    trained = []

    def train(network, seed):
        trained.append((network.out_features, seed))
        if len(trained) == 3:
            raise KeyboardInterrupt  # an interrupted run keeps what it finished
        return {"loss": float(network.weight.sum()), "params": parameter_count(network)}

    builders = {"a": lambda: torch.nn.Linear(2, 1), "b": lambda: torch.nn.Linear(2, 2)}
    with pytest.raises(KeyboardInterrupt):
        train_missing(builders, {"size": 2}, store, train, seeds=2)
    assert trained == [(2, 0), (1, 1), (2, 1)] and set(store.load()) == {"2/a/0", "2/b/0", "2/a/1"}
    runs = train_missing(builders, {"size": 2}, store, train, seeds=2)
    assert trained[-1] == (2, 1) and len(trained) == 4
    assert runs["a"][0]["loss"] == 9.0 and runs["b"][0]["params"] == 6
    assert [run["seed"] for run in runs["b"]] == [0, 1] and runs["b"][1]["model"] == "b"
    torch.manual_seed(1)  # each network starts from its seed's initialization
    assert runs["a"][1]["loss"] == pytest.approx(float(torch.nn.Linear(2, 1).weight.sum()))
    assert train_missing(builders, {"size": 3}, store, train, seeds=0) == {"a": [], "b": []}  # own setting


def test_train_missing_shows_what_cannot_be_built_here_only_from_complete_stored_runs(tmp_path):
    store = RunStore(tmp_path / "runs.json", fields=("size", "model", "seed"))
    store.put({"size": 2, "model": "package", "seed": 0, "loss": 1.0})  # trained where it was installed

    def train(network, seed):
        return {"loss": 0.0}

    builders = {"package": None, "ours": lambda: torch.nn.Linear(2, 1)}  # the package is absent here
    runs = train_missing(builders, {"size": 2}, store, train, seeds=1)
    assert list(runs) == ["package", "ours"] and runs["package"][0]["loss"] == 1.0  # in builders order
    runs = train_missing(builders, {"size": 2}, store, train, seeds=2)
    assert list(runs) == ["ours"] and "2/package/1" not in store  # seed 1 missing: left out, not trained


def test_quiet_trainer_logs_nothing_and_checkpoints_only_when_asked(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    quiet = quiet_trainer(default_root_dir=tmp_path, max_epochs=1)
    assert quiet.logger is None and not quiet.checkpoint_callbacks and quiet.progress_bar_callback is None
    kept = quiet_trainer(default_root_dir=tmp_path, callbacks=[ModelCheckpoint(dirpath=tmp_path)])
    assert len(kept.checkpoint_callbacks) == 1


def test_a_float_field_keys_in_its_shortest_exact_form(tmp_path):
    store = RunStore(tmp_path / "runs.json", fields=("lr", "wd", "dropout", "seed"))
    assert store.key({"lr": 0.001, "wd": 5e-6, "dropout": 0.0, "seed": 1}) == "0.001/5e-06/0/1"
    assert store.key({"lr": 1 / 3, "wd": 0.5, "dropout": 1.0, "seed": 0}) == f"{1 / 3!r}/0.5/1/0"
