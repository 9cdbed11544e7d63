"""ffn-graphs: fast_dev_run of the tasks through main, the block switch, the optional pykeen baselines."""

import sys

import pytest

from ffn_blocks import SwiGLU
from ffn_data.testing import error_line
from ffn_graphs.bench.kg_baselines import train_baseline
from ffn_graphs.cli import KGCLI, main
from ffn_graphs.data import KnowledgeGraphDataModule
from ffn_graphs.module import KGCompletion


def test_nodes_fast_dev_run(configs, in_tmp_dir):
    main(
        [
            "nodes",
            "fit",
            "--config",
            str(configs / "tiny.yaml"),
            "--trainer.fast_dev_run",
            "true",
            "--model.depth",
            "4",
            "--model.init",
            "xavier",
        ]
    )


def test_links_fast_dev_run(configs, in_tmp_dir):
    main(["links", "fit", "--config", str(configs / "links.yaml"), "--trainer.fast_dev_run", "true"])


def test_kg_fast_dev_run(configs, in_tmp_dir):
    main(["kg", "fit", "--config", str(configs / "kg_tiny.yaml"), "--trainer.fast_dev_run", "true"])


def test_nbfnet_update_switch_on_the_command_line(configs, in_tmp_dir):
    cli = KGCLI(
        KGCompletion,
        KnowledgeGraphDataModule,
        app_name="graphs-kg",
        run=False,
        args=["--config", str(configs / "kg_tiny.yaml"), "--model.update", "SwiGLU"],
    )
    assert all(isinstance(layer.update_ffn, SwiGLU) for layer in cli.model.model.layers)
    assert cli.model.num_relations == 46


def test_kg_baselines_without_pykeen_name_the_optional_group(monkeypatch, tmp_path):
    """pykeen is optional (the ``bench`` group): without it the baseline says how to install it."""
    for name in ("pykeen", "pykeen.pipeline", "pykeen.triples"):
        monkeypatch.setitem(sys.modules, name, None)  # import of a None entry raises ImportError
    with pytest.raises(ImportError, match="uv sync --group bench"):
        train_baseline("DistMult", tmp_path / "kg", 0, tmp_path)


def _kg_folder(folder, test_lines):
    folder.mkdir()
    (folder / "train.txt").write_text("a\tr\tb\nb\tr\tc\nc\tr\ta\n")
    (folder / "valid.txt").write_text("a\tr\tc\n")
    (folder / "test.txt").write_text("".join(line + "\n" for line in test_lines))
    return folder


@pytest.mark.parametrize(
    ("test_lines", "extra", "expected"),
    [
        (
            None,
            [],
            "error: {folder}/train.txt: missing split file (expected head<TAB>relation<TAB>tail lines)",
        ),
        (["b\tr\ta", "c\tr"], [], "error: {folder}/test.txt:2: expected 3 tab-separated fields, got 2"),
        (
            ["b\tr\tz"],
            ["--data.unknown", "error"],
            "error: {folder}/test.txt: 1 triples name entities or relations absent from its graph",
        ),
    ],
    ids=["missing folder", "wrong column count", "unknown entity"],
)
def test_bad_kg_is_one_error_line_with_exit_status_2(configs, in_tmp_dir, test_lines, extra, expected):
    folder = in_tmp_dir / "kg"
    if test_lines is not None:
        _kg_folder(folder, test_lines)
    args = ["kg", "fit", "--config", str(configs / "kg_tiny.yaml"), "--data.folder", str(folder), *extra]
    assert error_line(main, [*args, "--trainer.fast_dev_run", "true"]) == expected.format(folder=folder)


@pytest.mark.parametrize(("task", "prog"), [([], "ffn-graphs fit"), (["kg"], "ffn-graphs kg fit")])
def test_a_parse_error_names_the_command_the_user_typed(in_tmp_dir, task, prog):
    line = error_line(main, [*task, "fit", "--model.no_such_option", "1"])
    assert line.startswith("error: ") and line.endswith(f"(options: {prog} --help)"), line
