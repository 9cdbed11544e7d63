"""An analytic radiance scene rendered exactly and written in the blender (NeRF-synthetic) format.

The scene is a few overlapping spheres, each of constant density and colour. Along a ray the density
and colour are piecewise constant between the points where the ray enters or leaves a sphere, so volume
rendering has a closed form: with segments ``s`` of length ``ℓ_s``, total density ``σ_s`` and the
density-weighted colour ``c_s`` of the spheres that contain them,

    C = Σ_s T_s (1 − exp(−σ_s ℓ_s)) c_s + T_end · background,   T_s = exp(−Σ_{s' < s} σ_s' ℓ_s').

Rays come from nerfstudio's `Cameras` (the same call its dataparser-built cameras make), and the files
are what nerfstudio's `Blender` dataparser reads: ``transforms_{train,val,test}.json`` with
``camera_angle_x`` and OpenGL camera-to-world matrices, and RGBA PNGs whose alpha is the accumulated
opacity, so compositing over white gives the white-background rendering.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from nerfstudio.cameras.cameras import Cameras, CameraType

__all__ = ["AnalyticScene", "Sphere", "look_at", "write_blender_scene"]

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Sphere:
    """A ball of constant density and colour."""

    center: tuple[float, float, float]
    radius: float
    density: float
    color: tuple[float, float, float]


def _default_spheres() -> tuple[Sphere, ...]:
    return (
        Sphere((0.0, 0.0, 0.0), 0.6, 6.0, (0.9, 0.2, 0.15)),
        Sphere((0.55, 0.35, 0.25), 0.35, 25.0, (0.15, 0.75, 0.2)),
        Sphere((-0.45, -0.5, 0.35), 0.4, 3.0, (0.15, 0.3, 0.95)),
    )


@dataclass(frozen=True)
class AnalyticScene:
    """Spheres inside nerfstudio's blender scene box ``[−1.5, 1.5]³``, white background."""

    spheres: tuple[Sphere, ...] = field(default_factory=_default_spheres)
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def render(
        self, origins: torch.Tensor, directions: torch.Tensor, near: float = 0.0, far: float = 1e3
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact ``(colour over the background, accumulated opacity)`` of rays ``(*, 3)``.

        ``directions`` must be unit vectors (distances along the ray are then metric).
        """
        lead = origins.shape[:-1]
        o, d = origins.reshape(-1, 3).double(), directions.reshape(-1, 3).double()
        centers = torch.tensor([s.center for s in self.spheres], dtype=torch.float64)
        radii = torch.tensor([s.radius for s in self.spheres], dtype=torch.float64)
        densities = torch.tensor([s.density for s in self.spheres], dtype=torch.float64)
        colors = torch.tensor([s.color for s in self.spheres], dtype=torch.float64)
        # ray-sphere intersections t = b ± sqrt(b² − |o − c|² + r²), clipped to [near, far]
        oc = o[:, None, :] - centers  # (R, K, 3)
        b = -(oc * d[:, None, :]).sum(-1)
        disc = (b.square() - oc.square().sum(-1) + radii.square()).clamp_min(0)
        root = disc.sqrt()
        cuts = torch.cat([b - root, b + root], dim=1).clamp(near, far)
        bounds = torch.cat([torch.full_like(cuts[:, :1], near), cuts, torch.full_like(cuts[:, :1], far)], 1)
        bounds = bounds.sort(dim=1).values  # (R, 2K + 2)
        lengths = bounds.diff(dim=1)
        mids = (bounds[:, 1:] + bounds[:, :-1]) / 2
        points = o[:, None, :] + mids[..., None] * d[:, None, :]  # (R, S, 3)
        inside = ((points[:, :, None, :] - centers).square().sum(-1) < radii.square()).double()  # (R, S, K)
        sigma = inside @ densities  # (R, S)
        color = (inside * densities) @ colors / sigma.clamp_min(1e-12)[..., None]
        optical = sigma * lengths
        transmittance = torch.exp(-torch.cumsum(optical, 1) + optical)
        weights = transmittance * (1 - torch.exp(-optical))
        accumulation = weights.sum(1)
        rgb = (weights[..., None] * color).sum(1) + (1 - accumulation)[:, None] * torch.tensor(
            self.background
        )
        return rgb.float().reshape(*lead, 3), accumulation.float().reshape(*lead)


def look_at(position: np.ndarray, target: np.ndarray | None = None) -> np.ndarray:
    """OpenGL camera-to-world ``4 × 4``: the camera at ``position`` looks at ``target`` (default: the
    origin), world z up."""
    back = position - (np.zeros(3) if target is None else target)
    back = back / np.linalg.norm(back)
    right = np.cross(np.array([0.0, 0.0, 1.0]), back)
    right = right / np.linalg.norm(right)
    up = np.cross(back, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, up, back, position
    return pose


def _poses(count: int, radius: float, rng: np.random.Generator) -> list[np.ndarray]:
    azimuths = rng.uniform(0, 2 * math.pi, count)
    elevations = rng.uniform(math.radians(-20), math.radians(60), count)
    return [
        look_at(radius * np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)]))
        for a, e in zip(azimuths, elevations, strict=True)
    ]


def write_blender_scene(
    path: str | Path,
    *,
    scene: AnalyticScene | None = None,
    image_size: int = 48,
    views: dict[str, int] | None = None,
    camera_angle_x: float = 0.69,
    radius: float = 4.0,
    seed: int = 0,
) -> Path:
    """Render the scene from random viewpoints on a sphere and write it in the blender layout.

    Args:
        path: output folder (created); existing files are overwritten.
        scene: the analytic scene (default: three spheres).
        image_size: width and height in pixels.
        views: number of views per split (default: 32 train, 4 val, 4 test).
        camera_angle_x: horizontal field of view in radians (NeRF-synthetic: 0.69).
        radius: camera distance from the origin.
        seed: viewpoint seed; different splits get different viewpoints.
    """
    import imageio.v2 as imageio

    scene = scene or AnalyticScene()
    views = views or {"train": 32, "val": 4, "test": 4}
    root = Path(path)
    rng = np.random.default_rng(seed)
    focal = 0.5 * image_size / math.tan(0.5 * camera_angle_x)
    for split in SPLITS:
        (root / split).mkdir(parents=True, exist_ok=True)
        frames = []
        for i, pose in enumerate(_poses(views.get(split, 0), radius, rng)):
            camera = Cameras(
                camera_to_worlds=torch.from_numpy(pose[:3]).float()[None],
                fx=focal,
                fy=focal,
                cx=image_size / 2,
                cy=image_size / 2,
                width=image_size,
                height=image_size,
                camera_type=CameraType.PERSPECTIVE,
            )
            rays = camera.generate_rays(camera_indices=0)
            rgb, alpha = scene.render(rays.origins, rays.directions)
            background = torch.tensor(scene.background)
            # store straight (unpremultiplied) colour: rgb·α + bg·(1 − α) gives back the rendering
            straight = torch.where(
                alpha[..., None] > 1e-6,
                (rgb - background * (1 - alpha[..., None])) / alpha[..., None].clamp_min(1e-6),
                0,
            )
            rgba = torch.cat([straight.clamp(0, 1), alpha[..., None]], -1)
            imageio.imwrite(root / split / f"r_{i}.png", (rgba.numpy() * 255).round().astype(np.uint8))
            frames.append({"file_path": f"./{split}/r_{i}", "transform_matrix": pose.tolist()})
        meta = {"camera_angle_x": camera_angle_x, "frames": frames}
        (root / f"transforms_{split}.json").write_text(json.dumps(meta, indent=1))
    return root
