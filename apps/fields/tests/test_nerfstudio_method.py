"""nerfstudio finds our methods through its plugin mechanism and its own trainer trains them on CPU."""

import subprocess
import sys

from nerfstudio.plugins.registry import discover_methods

from ffn_fields.nerfstudio_method import FFNFieldModel


def test_plugin_discovery_lists_both_methods():
    methods, descriptions = discover_methods()
    assert {"ffn-cam", "ffn-pe"} <= set(methods)
    assert "coordinate-aware modulation" in descriptions["ffn-cam"].lower()
    assert methods["ffn-cam"].pipeline.model._target is FFNFieldModel


def test_ns_train_runs_our_field_on_cpu(scene, tmp_path):
    command = [
        sys.executable, "-m", "nerfstudio.scripts.train", "ffn-cam", "--data", str(scene),
        "--machine.device-type", "cpu", "--vis", "tensorboard", "--max-num-iterations", "6",
        "--output-dir", str(tmp_path), "--steps-per-eval-batch", "3", "--pipeline.model.width", "16",
        "--pipeline.model.ffn", "SwiGLU", "--pipeline.model.resolution", "4",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    checkpoints = list(tmp_path.glob("**/nerfstudio_models/*.ckpt"))
    assert checkpoints, result.stdout[-2000:]
