"""FFNLightningCLI: block injection from the command line and YAML, seed, loggers, progress bar."""

import csv

import pytest
import torch
from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar

from ffn_blocks import LowRankMLP, SwiGLU
from ffn_lightning import FFNLightningCLI


@pytest.fixture
def build(toy):
    def make(args):
        return FFNLightningCLI(*toy, app_name="toy", args=args, run=False)

    return make


def test_short_class_name_selects_the_block(in_tmp_dir, build):
    cli = build(["--model.ffn", "SwiGLU", "--model.ffn.hidden_features", "6"])
    assert isinstance(cli.model.block, SwiGLU)
    assert cli.model.block.hidden_features == 6
    # MLP's act=GELU (the default before the switch) must not become SwiGLU's gate
    assert isinstance(cli.model.block.act, torch.nn.SiLU)


def test_yaml_class_path_form(in_tmp_dir, build):
    (in_tmp_dir / "c.yaml").write_text(
        "model:\n  ffn:\n    class_path: ffn_blocks.LowRankMLP\n    init_args: {rank: 1, hidden_features: 4}\n"
    )
    cli = build(["--config", "c.yaml"])
    assert isinstance(cli.model.block, LowRankMLP) and cli.model.block.rank == 1


def test_seed_defaults_to_zero_and_progress_bar_is_rich(in_tmp_dir, build):
    cli = build([])
    assert cli.config["seed_everything"] == 0
    assert any(isinstance(c, RichProgressBar) for c in cli.trainer.callbacks)


def test_trainers_print_no_advertisement(in_tmp_dir, build, caplog):
    with caplog.at_level("INFO"):
        build([])
    assert "GPU available" in caplog.text  # Lightning's own information still reaches the log
    assert "Tip" not in caplog.text


def test_progress_bar_can_be_disabled_or_replaced(in_tmp_dir, build):
    cli = build(["--trainer.enable_progress_bar", "false"])
    assert cli.trainer.progress_bar_callback is None
    cli = build(["--trainer.callbacks", "TQDMProgressBar"])
    bars = [c for c in cli.trainer.callbacks if isinstance(c, RichProgressBar | TQDMProgressBar)]
    assert len(bars) == 1 and isinstance(bars[0], TQDMProgressBar)


def test_fit_writes_tensorboard_and_csv_logs(in_tmp_dir, toy):
    FFNLightningCLI(
        *toy,
        app_name="toy",
        args=[
            "fit",
            "--trainer.max_steps=4",
            "--trainer.enable_progress_bar=false",
            "--trainer.log_every_n_steps=1",
        ],
    )
    rows = list(csv.DictReader(open(in_tmp_dir / "runs/toy/csv/version_0/metrics.csv")))
    assert any(row["train/loss"] for row in rows)
    assert list((in_tmp_dir / "runs/toy/tensorboard/version_0").glob("events.out.tfevents.*"))
    assert (in_tmp_dir / "runs/toy/tensorboard/version_0/checkpoints").is_dir()


def test_default_root_dir_moves_logs_config_and_checkpoints(in_tmp_dir, toy):
    args = [
        "fit",
        "--trainer.max_steps=4",
        "--trainer.log_every_n_steps=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.default_root_dir=out",
    ]
    FFNLightningCLI(*toy, app_name="toy", args=args)
    assert not (in_tmp_dir / "runs").exists()
    assert list((in_tmp_dir / "out/tensorboard/version_0").glob("events.out.tfevents.*"))
    assert (in_tmp_dir / "out/csv/version_0/metrics.csv").is_file()
    assert list((in_tmp_dir / "out/tensorboard/version_0/checkpoints").glob("*.ckpt"))
    assert (in_tmp_dir / "out/tensorboard/version_0/config.yaml").is_file()


def test_a_logger_with_its_own_save_dir_keeps_it(in_tmp_dir, toy):
    args = [
        "fit",
        "--trainer.max_steps=1",
        "--trainer.log_every_n_steps=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.default_root_dir=out",
        "--trainer.logger=CSVLogger",
        "--trainer.logger.save_dir=mine",
    ]
    FFNLightningCLI(*toy, app_name="toy", args=args)
    assert (in_tmp_dir / "mine/lightning_logs/version_0/metrics.csv").is_file()


def test_unknown_block_name_is_rejected(in_tmp_dir, build, capsys):
    with pytest.raises(SystemExit):
        build(["--model.ffn", "NoSuchBlock"])
    assert "NoSuchBlock" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--config", "missing.yaml"], "missing.yaml"),
        (["--trainer.max_epochs", "abc"], "trainer.max_epochs"),
        (["--no-such-option", "1"], "--no-such-option"),
    ],
)
def test_a_parse_error_is_one_line_and_exit_status_2(in_tmp_dir, build, capsys, monkeypatch, args, named):
    monkeypatch.delenv("FFN_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stop:
        build(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and named in err, err


def test_config_names_resolve_among_the_shipped_configs(in_tmp_dir, toy, tmp_path_factory):
    shipped = tmp_path_factory.mktemp("shipped")
    (shipped / "presets").mkdir()
    (shipped / "presets" / "rank.yaml").write_text(
        "model:\n  ffn:\n    class_path: ffn_blocks.LowRankMLP\n    init_args: {rank: 2, hidden_features: 4}\n"
    )
    for args in (["--config", "presets/rank.yaml"], ["--config=presets/rank"]):
        cli = FFNLightningCLI(*toy, app_name="toy", config_dir=shipped, args=args, run=False)
        assert isinstance(cli.model.block, LowRankMLP) and cli.model.block.rank == 2
    # a file of that name in the working directory wins over the shipped one
    (in_tmp_dir / "presets").mkdir()
    (in_tmp_dir / "presets" / "rank.yaml").write_text("model:\n  width: 5\n")
    cli = FFNLightningCLI(
        *toy, app_name="toy", config_dir=shipped, args=["--config", "presets/rank.yaml"], run=False
    )
    assert cli.model.hparams.width == 5 and not isinstance(cli.model.block, LowRankMLP)
