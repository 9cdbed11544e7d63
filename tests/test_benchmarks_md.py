"""BENCHMARKS.md shows what the tracked run stores hold: a section whose bench keeps structured records
renders from its store without training, table row for table row, so no number in it can be edited by
hand or outlive the run it came from."""

import json
import shutil
from pathlib import Path

import pytest

from ffn_lightning.benchmarking import RESULTS_DIR

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def _tables(path: Path, section: str) -> list[str]:
    text = path.read_text()
    start, end = text.index(f"<!-- {section}:start -->"), text.index(f"<!-- {section}:end -->")
    return [line for line in text[start:end].splitlines() if line.startswith("|")]


@pytest.fixture
def copy(tmp_path) -> Path:
    """A copy of BENCHMARKS.md for a bench to rewrite."""
    return Path(shutil.copy(BENCHMARKS, tmp_path / "BENCHMARKS.md"))


def test_kg_section_is_its_store(copy, tmp_path):
    from ffn_graphs.bench.virgo_kg import main

    store = BENCHMARKS.parent / RESULTS_DIR / "graphs-kg.json"
    main(
        [
            "bench-kg",
            "--kg-seeds",
            "0",
            "--root",
            str(tmp_path),
            "--kg-results",
            str(store),
            "--output",
            str(copy),
        ]
    )
    assert _tables(copy, "graphs-bench-kg") == _tables(BENCHMARKS, "graphs-bench-kg")


def test_cam_paper_section_is_its_store(copy):
    from ffn_fields.bench.cam_paper import main

    store = BENCHMARKS.parent / RESULTS_DIR / "fields-cam-paper.json"
    main(["--seeds", "0", "--results", str(store), "--markdown", str(copy)])
    assert _tables(copy, "fields-cam-paper") == _tables(BENCHMARKS, "fields-cam-paper")


def test_study_section_is_its_store(copy, tmp_path):
    from ffn_lightning.bench.study import main

    store = BENCHMARKS.parent / RESULTS_DIR / "study.json"
    args = ["--tables-only", "--results", str(store), "--markdown", str(copy), "--figure", ""]
    main([*args, "--output", str(tmp_path / "runs")])
    assert _tables(copy, "study") == _tables(BENCHMARKS, "study")


def test_virgo_section_is_its_store(copy, tmp_path):
    from ffn_graphs.bench.virgo_kg import main

    store = BENCHMARKS.parent / RESULTS_DIR / "graphs-virgo.json"
    args = ["--seeds", "0", "--virgo-results", str(store), "--virgo-plot", "", "--output", str(copy)]
    main(["bench-virgo", *args, "--root", str(tmp_path)])
    assert _tables(copy, "graphs-bench-virgo") == _tables(BENCHMARKS, "graphs-bench-virgo")


def _no_training(monkeypatch, module, *names):
    """Make ``module``'s training functions fail, so a section can only come from its store."""

    def refuse(*args, **kwargs):
        raise AssertionError("the bench trained although its store holds every run")

    for name in names:
        monkeypatch.setattr(module, name, refuse)


def test_timeseries_section_is_its_store(copy, tmp_path, monkeypatch):
    from ffn_timeseries.bench import etth1

    _no_training(monkeypatch, etth1, "run_one")
    store = BENCHMARKS.parent / RESULTS_DIR / "timeseries.json"
    stored = [f"--only={name}" for name in json.loads(store.read_text()) if "/" not in name]  # CPU rows
    etth1.main([*stored, "--results", str(store), "--root", str(tmp_path), "--output", str(copy)])
    assert _tables(copy, "timeseries-etth1") == _tables(BENCHMARKS, "timeseries-etth1")


def test_tsp_section_is_its_store(copy, monkeypatch):
    from ffn_graphs.bench import tsp

    _no_training(monkeypatch, tsp, "_train")
    store = BENCHMARKS.parent / RESULTS_DIR / "graphs-tsp.json"
    tsp.main(["--seeds", "5", "--train-instances", "1000", "--results", str(store), "--markdown", str(copy)])
    expected = _tables(BENCHMARKS, "graphs-tsp")
    if tsp.PackageFloydNet is None:  # without the optional bench group the authors' package has no row
        expected = [row for row in expected if not row.startswith(f"| {tsp.PACKAGE} |")]
    assert _tables(copy, "graphs-tsp") == expected


def test_cpu_step_section_is_its_store(copy, monkeypatch):
    from ffn_lightning.bench import step

    _no_training(monkeypatch, step, "_measure", "_curve")
    args = ["--skip-steps", "--results", str(BENCHMARKS.parent / RESULTS_DIR), "--markdown", str(copy)]
    step.main(args)
    assert _tables(copy, "cpu-step") == _tables(BENCHMARKS, "cpu-step")


def test_fields_section_is_its_store(copy, monkeypatch):
    from ffn_fields.bench import fields

    _no_training(monkeypatch, fields, "_fit")
    store = BENCHMARKS.parent / RESULTS_DIR / "fields.json"
    fields.main(["--results", str(store), "--markdown", str(copy)])
    assert _tables(copy, "fields") == _tables(BENCHMARKS, "fields")


def test_speech_section_is_its_store(copy, tmp_path, monkeypatch):
    from ffn_speech.bench import separation

    _no_training(monkeypatch, separation, "_train", "step_times")
    store = BENCHMARKS.parent / RESULTS_DIR / "speech.json"
    args = ["--steps", "200", "--seeds", "3", "--rounds", "0", "--results", str(store)]
    separation.main([*args, "--root", str(tmp_path), "--output", str(copy)])
    assert _tables(copy, "speech") == _tables(BENCHMARKS, "speech")
