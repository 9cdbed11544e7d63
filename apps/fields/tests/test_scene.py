"""The generated scene: nerfstudio's Blender dataparser reads it and its pixels are the exact renderings."""

import json

import pytest
import torch

from ffn_fields.radiance import BlenderData, load_blender_split
from ffn_fields.scene import AnalyticScene, Sphere


def test_dataparser_pixels_match_the_analytic_rendering(scene):
    cameras, images = load_blender_split(scene, "train")
    assert images.shape == (8, 24, 24, 3) and cameras.shape == (8,)
    assert 0.05 < (images < 0.99).float().mean() < 0.95  # both object and background in view
    for view in (0, 5):
        rays = cameras.generate_rays(camera_indices=view)
        rgb, _ = AnalyticScene().render(rays.origins, rays.directions)
        assert (rgb - images[view]).abs().max() <= 1.0 / 255  # only 8-bit quantization separates them


def test_exact_rendering_of_one_sphere_along_its_diameter():
    sphere = Sphere((0.0, 0.0, 0.0), 0.5, 2.0, (1.0, 0.0, 0.0))
    scene = AnalyticScene(spheres=(sphere,), background=(0.0, 0.0, 1.0))
    rgb, alpha = scene.render(
        torch.tensor([[-3.0, 0.0, 0.0], [-3.0, 0.0, 0.9]]), torch.tensor([[1.0, 0, 0]] * 2)
    )
    opacity = 1 - torch.exp(torch.tensor(-2.0 * 1.0))  # density 2 over the diameter 1
    assert torch.allclose(alpha, torch.stack([opacity, torch.tensor(0.0)]), atol=1e-6)
    assert torch.allclose(rgb[0], torch.stack([opacity, torch.tensor(0.0), 1 - opacity]), atol=1e-6)
    assert torch.allclose(rgb[1], torch.tensor([0.0, 0.0, 1.0]))  # misses: background


def test_splits_use_different_viewpoints(scene):
    poses = {s: json.loads((scene / f"transforms_{s}.json").read_text())["frames"] for s in ("train", "test")}
    train = {tuple(map(tuple, f["transform_matrix"])) for f in poses["train"]}
    assert not train & {tuple(map(tuple, f["transform_matrix"])) for f in poses["test"]}


def test_folder_without_transforms_is_a_one_line_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"transforms_train\.json"):
        BlenderData(path=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"transforms_val\.json"):
        load_blender_split(tmp_path, "val")
