"""The radiance renderer (nerfstudio samplers and renderers around our field) learns the analytic scene."""

from functools import partial

import torch
from lightning import Trainer

from ffn_blocks import MLP
from ffn_fields.fields import PEField
from ffn_fields.radiance import BlenderData, RadianceFitting, RadianceRenderer


def _white_psnr(data):
    images = data.splits["val"][1]
    return (-10 * torch.log10((images - 1).square().mean())).item()


def test_radiance_field_beats_the_empty_scene_on_held_out_views(scene):
    torch.manual_seed(0)
    data = BlenderData(path=str(scene), rays_per_batch=256, steps_per_epoch=150)
    data.setup("fit")
    field = partial(PEField, width=32, depth=1, num_frequencies=4, ffn=partial(MLP, hidden_features=32))
    renderer = RadianceRenderer(field, num_samples=24, num_importance_samples=16)
    model = RadianceFitting(renderer, optimizer=partial(torch.optim.Adam, lr=5e-3))
    trainer = Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(model, data)
    psnr = trainer.validate(model, data, verbose=False)[0]["val/psnr"]
    assert psnr > _white_psnr(data) + 4, (psnr, _white_psnr(data))


def test_outputs_have_ray_shape_and_depth_lies_between_the_planes(scene):
    data = BlenderData(path=str(scene))
    data.setup("test")
    rays, _ = data.test_dataloader().dataset[0]
    renderer = RadianceRenderer(partial(PEField, width=8, depth=1), num_samples=8, num_importance_samples=8)
    from ffn_fields.radiance import _bundle

    with torch.no_grad():
        out = renderer.render_in_chunks(_bundle(rays), chunk=100)
    assert out["rgb"].shape == (24, 24, 3) and out["accumulation"].shape == (24, 24, 1)
    assert ((out["depth"] >= 2 - 1e-4) & (out["depth"] <= 6 + 1e-4)).all()
