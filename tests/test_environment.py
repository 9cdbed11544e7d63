"""All seven libraries import together in the test environment, and a real component of each runs on CPU.

The environment decision this guards (README, "One environment"): nerfstudio 1.1.5 lives beside
timm 1.x and protobuf ≥ 4 through uv overrides. These tests check the nerfstudio parts the fields app
uses (Cameras, RayBundle, UniformSampler/PDFSampler, RGBRenderer, NeRFEncoding, the blender
dataparser, the method-plugin types) against answers known in closed form.
"""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image


def test_seven_libraries_share_one_process():
    import lightning
    import nerfstudio  # noqa: F401
    import pytorch_forecasting
    import timm
    import torch_geometric
    import torchaudio

    assert torch.__version__.startswith("2.9.1")
    assert torchaudio.__version__.startswith("2.9.1")
    assert int(lightning.__version__.split(".")[0]) == 2
    assert int(timm.__version__.split(".")[0]) >= 1
    assert torch_geometric.__version__ and pytorch_forecasting.__version__


def test_lightning_trains_its_demo_model(tmp_path):
    from lightning.pytorch import Trainer
    from lightning.pytorch.demos.boring_classes import BoringModel

    model = BoringModel()
    before = model.layer.weight.detach().clone()
    Trainer(
        max_steps=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    ).fit(model)
    assert not torch.equal(before, model.layer.weight)


def test_timm_builds_and_runs_a_vit():
    import timm

    model = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, num_classes=3
    )
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)


def test_torch_geometric_gcn_matches_the_normalized_adjacency():
    from torch_geometric.nn import GCNConv

    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])  # path 0 - 1 - 2
    x = torch.randn(3, 4)
    conv = GCNConv(4, 2)
    a = torch.eye(3)
    a[0, 1] = a[1, 0] = a[1, 2] = a[2, 1] = 1
    d = a.sum(1).rsqrt()
    expected = (d[:, None] * a * d[None, :]) @ conv.lin(x) + conv.bias
    torch.testing.assert_close(conv(x, edge_index), expected, rtol=1e-5, atol=1e-5)


def test_torchaudio_resamples_and_separates():
    import torchaudio

    t = torch.arange(8000) / 8000
    tone = torch.sin(2 * math.pi * 440 * t)
    up = torchaudio.transforms.Resample(8000, 16000)(tone)
    assert up.shape[-1] == 16000
    peak_hz = torch.fft.rfft(up).abs().argmax().item() * 16000 / up.shape[-1]
    assert abs(peak_hz - 440) <= 1
    model = torchaudio.models.ConvTasNet(
        num_sources=2,
        enc_num_feats=16,
        msk_num_feats=8,
        msk_num_hidden_feats=16,
        msk_num_layers=2,
        msk_num_stacks=1,
    )
    assert model(tone[None, None, :800]).shape == (1, 2, 800)


def test_pytorch_forecasting_builds_a_model_from_a_dataset():
    import pandas as pd
    from pytorch_forecasting import TimeSeriesDataSet
    from pytorch_forecasting.models import NHiTS

    frame = pd.DataFrame(
        {
            "series": np.repeat(["a", "b"], 60),
            "time_idx": np.tile(np.arange(60), 2),
            "value": np.sin(np.arange(120) / 5.0).astype("float32"),
        }
    )
    dataset = TimeSeriesDataSet(
        frame,
        time_idx="time_idx",
        target="value",
        group_ids=["series"],
        max_encoder_length=24,
        max_prediction_length=6,
        time_varying_unknown_reals=["value"],
    )
    model = NHiTS.from_dataset(dataset, hidden_size=16)
    x, _ = next(iter(dataset.to_dataloader(batch_size=4, train=False)))
    assert model(x)["prediction"].shape[:2] == (4, 6)


# --------------------------------------------------------------------------------------------- nerfstudio
def _camera(width=8, height=8, focal=10.0, z=4.0):
    from nerfstudio.cameras.cameras import Cameras, CameraType

    c2w = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, z]])[None]  # looking down -z from z=4
    return Cameras(
        camera_to_worlds=c2w,
        fx=focal,
        fy=focal,
        cx=width / 2,
        cy=height / 2,
        width=width,
        height=height,
        camera_type=CameraType.PERSPECTIVE,
    )


def test_nerfstudio_rays_samplers_encoding_and_renderer_on_cpu():
    from nerfstudio.cameras.rays import RayBundle
    from nerfstudio.field_components.encodings import NeRFEncoding
    from nerfstudio.model_components.ray_samplers import PDFSampler, UniformSampler
    from nerfstudio.model_components.renderers import RGBRenderer

    rays = _camera().generate_rays(camera_indices=0).flatten()
    assert isinstance(rays, RayBundle) and rays.origins.shape == (64, 3)
    torch.testing.assert_close(rays.directions.norm(dim=-1), torch.ones(64))
    rays.nears = torch.full((64, 1), 2.0)
    rays.fars = torch.full((64, 1), 6.0)

    samples = UniformSampler(num_samples=256, train_stratified=False)(rays)
    positions = samples.frustums.get_positions()
    encoded = NeRFEncoding(in_dim=3, num_frequencies=4, min_freq_exp=0.0, max_freq_exp=3.0)(positions)
    assert encoded.shape == (64, 256, 3 * 2 * 4)

    # Constant density σ and colour c over a segment of length 4 render to c · (1 − exp(−4σ)) on black.
    sigma, colour = 0.3, torch.tensor([0.2, 0.5, 0.9])
    weights = samples.get_weights(torch.full((64, 256, 1), sigma))
    rgb = RGBRenderer(background_color=torch.zeros(3))(rgb=colour.expand(64, 256, 3), weights=weights)
    torch.testing.assert_close(rgb, colour.expand(64, 3) * (1 - math.exp(-4 * sigma)), rtol=1e-4, atol=1e-4)

    fine = PDFSampler(num_samples=32, train_stratified=False)(rays, samples, weights)
    starts = fine.frustums.starts[..., 0]
    assert torch.all(starts >= 2.0 - 1e-4) and torch.all(fine.frustums.ends[..., 0] <= 6.0 + 1e-4)
    assert torch.all(starts[:, 1:] >= starts[:, :-1])


def test_nerfstudio_blender_dataparser_reads_a_written_scene(tmp_path):
    from nerfstudio.data.dataparsers.blender_dataparser import BlenderDataParserConfig

    angle = 0.8
    (tmp_path / "train").mkdir()
    frames = []
    for i in range(2):
        Image.fromarray(np.full((8, 8, 4), 255, dtype=np.uint8)).save(tmp_path / "train" / f"r_{i}.png")
        pose = np.eye(4)
        pose[2, 3] = 4.0 + i
        frames.append({"file_path": f"./train/r_{i}", "transform_matrix": pose.tolist()})
    (tmp_path / "transforms_train.json").write_text(json.dumps({"camera_angle_x": angle, "frames": frames}))

    outputs = BlenderDataParserConfig(data=tmp_path).setup().get_dataparser_outputs(split="train")
    assert len(outputs.image_filenames) == 2
    assert outputs.cameras.fx[0, 0].item() == pytest.approx(0.5 * 8 / math.tan(0.5 * angle), rel=1e-5)
    assert outputs.cameras.camera_to_worlds.shape == (2, 3, 4)


def test_nerfstudio_method_plugin_types_and_registry():
    from nerfstudio.configs.method_configs import all_methods  # what ns-train imports: every built-in method
    from nerfstudio.engine.trainer import TrainerConfig
    from nerfstudio.pipelines.base_pipeline import VanillaPipelineConfig
    from nerfstudio.plugins.registry import discover_methods
    from nerfstudio.plugins.types import MethodSpecification

    assert "nerfacto" in all_methods and "splatfacto" in all_methods
    spec = MethodSpecification(
        config=TrainerConfig(method_name="probe", pipeline=VanillaPipelineConfig()), description="probe"
    )
    assert spec.config.method_name == "probe"
    methods, descriptions = discover_methods()  # entry-point plugins (the fields app adds its own)
    assert isinstance(methods, dict) and isinstance(descriptions, dict)


@pytest.mark.parametrize("name", ["timm", "protobuf"])
def test_overridden_pins_took_effect(name):
    from importlib.metadata import version

    major = int(version(name).split(".")[0])
    assert major >= (1 if name == "timm" else 4), f"{name} {version(name)}: the uv override did not apply"
