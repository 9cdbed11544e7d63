"""BENCHMARKS.md shows what the tracked run stores hold: every section renders from its store without
training or timing, byte for byte (its date and machine are those of the runs it shows), so no number
in it can be edited by hand or outlive the run it came from."""

import json
import re
import shutil
from pathlib import Path

import pytest

from ffn_lightning.benchmarking import RESULTS_DIR

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def _section(path: Path, section: str) -> str:
    text = path.read_text()
    return text[text.index(f"<!-- {section}:start -->") : text.index(f"<!-- {section}:end -->")]


def test_every_section_has_a_test_here():
    sections = re.findall(r"<!-- ([\w-]+):start -->", BENCHMARKS.read_text())
    named = set(re.findall(r'"([\w-]+)"', Path(__file__).read_text()))  # a test names its section
    assert sorted(set(sections) - named) == []


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch):
    """Benches name their stores as given; the sections name them relative to the repository root."""
    monkeypatch.chdir(BENCHMARKS.parent)


@pytest.fixture
def copy(tmp_path) -> Path:
    """A copy of BENCHMARKS.md for a bench to rewrite."""
    return Path(shutil.copy(BENCHMARKS, tmp_path / "BENCHMARKS.md"))


def test_kg_section_is_its_store(copy, tmp_path):
    from ffn_graphs.bench.virgo_kg import main

    store = RESULTS_DIR / "graphs-kg.json"
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
    assert _section(copy, "graphs-bench-kg") == _section(BENCHMARKS, "graphs-bench-kg")


def test_cam_paper_section_is_its_store(copy, monkeypatch):
    from ffn_fields.bench import cam_paper

    _no_training(monkeypatch, cam_paper, "run_one")
    store = RESULTS_DIR / "fields-cam-paper.json"
    cam_paper.main(["--seeds", "1", "--results", str(store), "--markdown", str(copy)])
    assert _section(copy, "fields-cam-paper") == _section(BENCHMARKS, "fields-cam-paper")


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ("study", ["--match", "params"]),
        ("study-flops", ["--match", "flops"]),
    ],
)
def test_study_section_is_its_store(copy, tmp_path, section, match):
    from ffn_lightning.bench.study import main

    args = ["--tables-only", *match, "--markdown", str(copy), "--figure", ""]
    main([*args, "--output", str(tmp_path / "runs")])
    assert _section(copy, section) == _section(BENCHMARKS, section)


def test_virgo_section_is_its_store(copy, tmp_path, monkeypatch):
    from ffn_graphs.bench import virgo_kg

    monkeypatch.setattr(virgo_kg, "_virgo_figure", lambda *args: None)  # the tracked figure stays
    store = RESULTS_DIR / "graphs-virgo.json"
    args = ["--seeds", "0", "--virgo-results", str(store), "--virgo-plot", "docs/graphs-virgo.png"]
    virgo_kg.main(["bench-virgo", *args, "--output", str(copy), "--root", str(tmp_path)])
    assert _section(copy, "graphs-bench-virgo") == _section(BENCHMARKS, "graphs-bench-virgo")


def _no_training(monkeypatch, module, *names):
    """Make ``module``'s training functions fail, so a section can only come from its store."""

    def refuse(*args, **kwargs):
        raise AssertionError("the bench trained although its store holds every run")

    for name in names:
        monkeypatch.setattr(module, name, refuse)


def test_timeseries_section_is_its_store(copy, tmp_path, monkeypatch):
    from ffn_timeseries.bench import etth1

    _no_training(monkeypatch, etth1, "run_one")
    store = RESULTS_DIR / "timeseries.json"
    stored = [f"--only={name}" for name in json.loads(store.read_text()) if "/" not in name]  # CPU rows
    etth1.main([*stored, "--results", str(store), "--root", str(tmp_path), "--output", str(copy)])
    assert _section(copy, "timeseries-etth1") == _section(BENCHMARKS, "timeseries-etth1")


@pytest.mark.parametrize("package", ["installed", "absent"])
def test_tsp_section_is_its_store(copy, monkeypatch, package):
    from ffn_graphs.bench import tsp

    _no_training(monkeypatch, tsp, "_train")
    if package == "absent":  # without the optional bench group: its stored runs still show, in place
        monkeypatch.setattr(tsp, "PackageFloydNet", None)
    store = RESULTS_DIR / "graphs-tsp.json"
    tsp.main(["--seeds", "5", "--train-instances", "1000", "--results", str(store), "--markdown", str(copy)])
    assert _section(copy, "graphs-tsp") == _section(BENCHMARKS, "graphs-tsp")


@pytest.mark.parametrize("package", ["installed", "absent"])
def test_apsp_section_is_its_store(copy, monkeypatch, package):
    from ffn_graphs.bench import apsp

    _no_training(monkeypatch, apsp, "_train", "_measure_cost")
    if package == "absent":  # without the optional bench group: its stored runs still show, in place
        monkeypatch.setattr(apsp, "PackageFloydNet", None)
    args = "--epochs 25 --train-graphs 1200 --dim 32 --seeds 5 --readout next_hop --layers 4".split()
    results = RESULTS_DIR
    stores = [
        "--results",
        str(results / "graphs-floyd.json"),
        "--cost-results",
        str(results / "graphs-floyd-cost.json"),
    ]
    apsp.main([*args, *stores, "--markdown", str(copy)])
    assert _section(copy, "graphs-floyd") == _section(BENCHMARKS, "graphs-floyd")


def test_timeseries_reference_section_is_its_store(copy, tmp_path, monkeypatch):
    from ffn_timeseries.bench import etth1

    _no_training(monkeypatch, etth1, "run_one", "_step_times")
    store = RESULTS_DIR / "timeseries.json"
    etth1.main(["--reference", "--results", str(store), "--root", str(tmp_path), "--output", str(copy)])
    assert _section(copy, "timeseries-reference") == _section(BENCHMARKS, "timeseries-reference")


def test_cpu_step_section_is_its_store(copy, monkeypatch):
    from ffn_lightning.bench import step

    _no_training(monkeypatch, step, "_measure", "_curve")
    monkeypatch.setattr(step, "_curve_figure", lambda *args: None)  # the tracked figure stays
    args = ["--skip-steps", "--results", str(RESULTS_DIR), "--markdown", str(copy)]
    step.main(args)
    assert _section(copy, "cpu-step") == _section(BENCHMARKS, "cpu-step")


def test_fields_section_is_its_store(copy, monkeypatch):
    from ffn_fields.bench import fields

    _no_training(monkeypatch, fields, "_fit")
    store = RESULTS_DIR / "fields.json"
    fields.main(["--results", str(store), "--markdown", str(copy)])
    assert _section(copy, "fields") == _section(BENCHMARKS, "fields")


def test_speech_section_is_its_store(copy, tmp_path, monkeypatch):
    from ffn_speech.bench import separation

    _no_training(monkeypatch, separation, "_train", "step_times")
    store = RESULTS_DIR / "speech.json"
    args = ["--steps", "200", "1000", "--seeds", "3", "--rounds", "0", "--results", str(store)]
    separation.main([*args, "--root", str(tmp_path), "--output", str(copy)])
    assert _section(copy, "speech") == _section(BENCHMARKS, "speech")


def test_speech_official_section_is_its_store(copy, monkeypatch):
    from ffn_speech.bench import official

    _no_training(monkeypatch, official, "step_times")  # renders without ClearerVoice's code
    official.main(
        ["--rounds", "0", "--results", str(RESULTS_DIR / "speech_official.json"), "--output", str(copy)]
    )
    assert _section(copy, "speech-official") == _section(BENCHMARKS, "speech-official")


def _timing_section(monkeypatch, copy, module, section: str, store: str, *measures: str) -> None:
    """Render a timing bench's section with ``--from-store``, its measuring functions refused."""
    _no_training(monkeypatch, module, *measures)
    module.main(["--from-store", "--results", str(RESULTS_DIR / f"{store}.json"), "--output", str(copy)])
    assert _section(copy, section) == _section(BENCHMARKS, section)


def test_core_blocks_section_is_its_store(copy, monkeypatch):
    from ffn_lightning.bench import blocks

    _timing_section(monkeypatch, copy, blocks, "core-blocks", "core-blocks", "run")


def test_spectral_monitor_section_is_its_store(copy, monkeypatch):
    from ffn_lightning.bench import spectral

    _timing_section(monkeypatch, copy, spectral, "spectral-monitor", "spectral-monitor", "_measure")


def test_allocator_section_is_its_store(copy, monkeypatch):
    from ffn_lightning.bench import allocator

    _timing_section(monkeypatch, copy, allocator, "allocator", "allocator", "_measure", "_arm")


def test_determinism_section_is_its_store(copy, monkeypatch):
    from ffn_graphs.bench import determinism

    _timing_section(monkeypatch, copy, determinism, "determinism", "determinism", "_measure")


def test_vision_models_section_is_its_store(copy, monkeypatch):
    from ffn_vision.bench import models

    _timing_section(monkeypatch, copy, models, "vision-models", "vision-models", "_measure", "_models")


def test_vision_demo_section_is_its_store(copy, monkeypatch):
    from ffn_vision.bench import demo

    _no_training(monkeypatch, demo, "_run")
    demo.main(["--from-store"], output=copy)
    assert _section(copy, "vision-demo") == _section(BENCHMARKS, "vision-demo")
