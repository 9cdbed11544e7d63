"""``ffn-bench-step``'s pieces that decide its numbers: the "before" build and the tables."""

from __future__ import annotations

from torch import nn

from ffn_blocks import MLP, Dropout
from ffn_lightning.bench.step import _curve_table, _step_table, before_cpu_work_


class _Cached(nn.Module):
    cache_inputs = True


def test_the_before_build_has_only_torch_dropouts_of_the_same_p_and_no_input_caches():
    cached = _Cached()
    model = nn.Sequential(MLP(8, 8, dropout=0.3), nn.Sequential(Dropout(0.9), cached))
    before_cpu_work_(model)
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert [type(m) for m in drops] == [nn.Dropout] * 3
    assert [m.p for m in drops] == [0.3, 0.3, 0.9]
    assert cached.cache_inputs is False and _Cached.cache_inputs is True  # the instance's switch only


def test_tables_show_speed_ups_as_ratios_to_the_same_run():
    record = {
        "app": "timeseries",
        "step_s": {"before": 0.3, "ours": 0.15, "compiled": 0.45},
        "top_ops": [("mm", 0.25), ("random_", 0.2)],
    }
    _, rows = _step_table([record])
    assert (
        rows[0][3] == "2.00× faster" and rows[0][5] == "3.00× slower" and rows[0][6] == "mm 25%, random_ 20%"
    )
    runs = [
        {
            "app": "a",
            "dropout": d,
            "seed": s,
            "epochs": 1,
            "losses": [1.0] * 9 + [v],
            "val_key": "val/mse",
            "val": v,
        }
        for d, s, v in [("nn.Dropout", 0, 0.5), ("nn.Dropout", 1, 0.7), ("ours", 0, 0.6)]
    ]
    _, rows = _curve_table(runs)
    assert rows[0][:3] == ["a", "nn.Dropout", 2] and rows[0][5] == "val/mse 0.6000 ± 0.1414"
    assert rows[1][4] == "0.6000"  # the last 10 % of one run's losses: its last loss
