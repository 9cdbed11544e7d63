"""bench-kg: the table shows every stored run, grouped by model, epochs and device."""

import json

from ffn_graphs.benchmark import main


def _run(mrr: float, device: str = "CPU") -> dict:
    metrics = {"mrr": mrr, "hits@1": mrr - 0.1, "hits@10": mrr + 0.05}
    return {**metrics, "seconds_per_epoch": 10.0, "peak_mb": 100.0, "device": device}


def test_table_groups_stored_runs_by_model_epochs_and_device(tmp_path):
    store = tmp_path / "runs.json"
    runs = {
        "UMLS/NBFNet, 1 epoch/0": _run(0.5),
        "UMLS/NBFNet, 1 epoch/1": _run(0.7),
        "UMLS/NBFNet, 1 epoch [gpu]/0": _run(0.9, "NVIDIA H100"),
        "UMLS/RotatE/0": {"mrr": 0.8, "hits@1": 0.7, "hits@10": 0.9, "epochs": 50, "seconds": 20.0},
    }
    store.write_text(json.dumps(runs))
    out = tmp_path / "BENCH.md"
    # every run asked for is stored, so nothing trains: the bench only renders the table
    args = ["--kg-datasets", "UMLS", "--kg-seeds", "2", "--kg-no-baselines", "--root", str(tmp_path)]
    main(["bench-kg", *args, "--kg-results", str(store), "--output", str(out)])
    rows = [line for line in out.read_text().splitlines() if line.startswith("| UMLS")]
    assert rows[0].startswith("| UMLS | NBFNet, 1 epoch | 2 | 0.600 ± 0.141 |")
    assert "| CPU | 10 s / epoch |" in rows[0]
    assert rows[1].startswith("| UMLS | NBFNet, 1 epoch | 1 | 0.900 |") and "| NVIDIA H100 |" in rows[1]
    assert rows[2].startswith("| UMLS | RotatE (pykeen) | 1 | 0.800 |") and "20 s (50 epochs)" in rows[2]
