"""BENCHMARKS.md shows what the tracked run stores hold: a section whose bench keeps structured records
renders from its store without training, table row for table row, so no number in it can be edited by
hand or outlive the run it came from."""

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
