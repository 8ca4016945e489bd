"""Moving camera (the RECON analogue): a downward-looking camera flying over a real photograph.

The world is a photograph lying on the ground plane (those that scikit-image ships, or
any RGB array), `pixels_per_metre` photo pixels to the metre, mirrored at its edges so
the ground never ends. The camera has a pose (x, y, yaw) in metres and radians; its
view is a square of `view_metres` on the ground, with the camera's forward direction at
the top of the frame. One action per frame, in the camera's own frame as RECON's are:

    (forward, left, yaw)  metres along the view direction, metres to its left, and a
                          counter-clockwise turn in radians applied after the move

Recorded state: the pose (x, y, yaw), which is what ATE and RPE score. Needs the [sim]
extra (scikit-image) only for its photographs.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from lawm_jax.data.random_actions import smooth_actions

# The colour photographs in the scikit-image wheel (its data/README.txt gives their licences:
# public domain or CC0/CC-BY, see docs/DATA.md).
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle", "hubble_deep_field", "retina")


def move(pose, action) -> np.ndarray:
    """The pose (x, y, yaw) after one action (forward, left, yaw) in the camera's frame."""
    x, y, heading = pose
    forward, left, yaw = action
    c, s = np.cos(heading), np.sin(heading)
    return np.array([x + forward * c - left * s, y + forward * s + left * c, heading + yaw])


def integrate_poses(start, actions) -> np.ndarray:
    """Poses (len(actions) + 1, 3) visited from `start` under `actions` (H, 3)."""
    poses = [np.asarray(start, np.float64)]
    for a in np.asarray(actions, np.float64):
        poses.append(move(poses[-1], a))
    return np.stack(poses)


def load_photo(name: str) -> np.ndarray:
    """An RGB uint8 photo shipped with scikit-image."""
    import skimage.data
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; choose from {PHOTOS}")
    photo = skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()
    return np.ascontiguousarray(photo[..., :3])


@dataclasses.dataclass(frozen=True)
class CameraConfig:
    image_size: int = 64
    fps: float = 4.0
    photos: tuple = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle")
    pixels_per_metre: float = 100.0
    view_metres: float = 1.28
    action_mean: tuple = (0.06, 0.0, 0.0)     # drives forward, on average
    action_scale: tuple = (0.04, 0.03, 0.12)  # std of the random actions
    max_step: tuple = (0.25, 0.25, 0.5)       # per-step limits: m, m, rad


class CameraSim:
    action_names = ("forward", "left", "yaw")
    state_names = ("x", "y", "yaw")

    def __init__(self, cfg: CameraConfig = CameraConfig(), photos: dict | None = None):
        """`photos` maps names to RGB arrays; by default the scikit-image ones in cfg.photos."""
        self.cfg = cfg
        self.photos = photos or {name: load_photo(name) for name in cfg.photos}
        s = cfg.image_size
        # Pixel centres of the view in camera units: u to the right, v forward (up).
        centres = (np.arange(s) + 0.5) / s - 0.5
        self.u, self.v = np.meshgrid(centres, -centres)
        self.photo = next(iter(self.photos.values()))
        self.pose = np.zeros(3)

    def reset(self, rng: np.random.Generator) -> None:
        """A random photo, position on it and heading."""
        names = sorted(self.photos)
        self.photo = self.photos[names[rng.integers(len(names))]]
        h, w = self.photo.shape[:2]
        ppm = self.cfg.pixels_per_metre
        self.pose = np.array([rng.uniform(0, w / ppm), rng.uniform(0, h / ppm), rng.uniform(-np.pi, np.pi)])

    def step(self, action) -> np.ndarray:
        """Moves the camera in its own frame; returns the applied (clipped) action."""
        limit = np.array(self.cfg.max_step)
        applied = np.clip(np.asarray(action, np.float64), -limit, limit)
        self.pose = move(self.pose, applied)
        return applied.astype(np.float32)

    def state(self) -> np.ndarray:
        return self.pose.astype(np.float32)

    def render(self) -> np.ndarray:
        """The view: bilinear samples of the mirrored photo under the camera's footprint."""
        x, y, heading = self.pose
        c, s = np.cos(heading), np.sin(heading)
        # World coordinates of each view pixel; forward = (c, s), right = (s, -c).
        size = self.cfg.view_metres
        wx = x + size * (self.u * s + self.v * c)
        wy = y + size * (-self.u * c + self.v * s)
        # World -> photo pixel coordinates; y points up the photo, rows point down.
        h, w = self.photo.shape[:2]
        ppm = self.cfg.pixels_per_metre
        col, row = wx * ppm - 0.5, h - wy * ppm - 0.5
        return bilinear_mirrored(self.photo, row, col)

    def episode_actions(self, rng: np.random.Generator, length: int) -> np.ndarray:
        """Random smooth actions for one episode (record_episode)."""
        return smooth_actions(rng, length, self.cfg.action_scale, mean=self.cfg.action_mean)

    def close(self) -> None:
        pass


def _mirror(i: np.ndarray, n: int) -> np.ndarray:
    """Index into a photo tiled with mirror copies: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ..."""
    i = np.mod(i, 2 * n)
    return np.where(i < n, i, 2 * n - 1 - i)


def bilinear_mirrored(image: np.ndarray, row: np.ndarray, col: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    r0, c0 = np.floor(row).astype(np.int64), np.floor(col).astype(np.int64)
    fr, fc = (row - r0)[..., None], (col - c0)[..., None]
    r0, r1 = _mirror(r0, h), _mirror(r0 + 1, h)
    c0, c1 = _mirror(c0, w), _mirror(c0 + 1, w)
    img = image.astype(np.float32)
    top = img[r0, c0] * (1 - fc) + img[r0, c1] * fc
    bottom = img[r1, c0] * (1 - fc) + img[r1, c1] * fc
    return np.clip(np.rint(top * (1 - fr) + bottom * fr), 0, 255).astype(np.uint8)
