"""Procedural scenes from real photographs: a stream of clips that cannot be memorised.

Each clip is drawn from one integer seed. A crop of a photograph is the background, seen
by a camera that pans, zooms and turns (or, in some clips, stands still); one to three
"agents" (cut-outs of other photographs, shaped as ellipses or rectangles) move over it
with piecewise-constant velocities, enter and leave the frame, appear late and stop; in
some clips a region of the frame has motion no agent causes (a texture drifting and
flickering, as water or leaves). A velocity holds for one step (`frames_per_step`
frames, one encoder state) and is redrawn at the next step with probability `change`:
the share of the motion that no context can predict, which only a latent action can
tell the predictor.

The generator also records what moved (`Motion`): each agent's position, velocity and
visibility per frame and the camera's motion per frame, the ground truth that video from
the wild never has. Agents move in the frame's pixel coordinates by whole pixels, so an
agent's recorded displacement is exactly its pixel shift; the camera moves by fractions
of a pixel (bilinear sampling of the mirrored photograph).

Photographs: the ones scikit-image ships ("skimage", needs the [sim] extra) or any
folder of images (read with PyAV); a fixed hash-chosen share of them (by file name,
`holdout`, as for videos) never appears in training clips.
"""
from __future__ import annotations

import dataclasses
import os

import grain
import numpy as np

from lawm_jax.data.clips import split_videos
from lawm_jax.data.sim_camera import bilinear_mirrored
from lawm_jax.errors import DataError

BUILTIN = "skimage"
# scikit-image's photographs (its data/README.txt gives their licences: public domain or
# CC0/CC-BY, see docs/DATA.md); grey ones are tinted with a random colour per use.
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina",
                  "rocket", "motorcycle", "brick", "camera", "clock", "coins", "grass", "gravel", "moon")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm")


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    frames: int = 8
    image_size: int = 32
    frames_per_step: int = 2
    min_agents: int = 1          # agents per clip: min_agents to max_agents
    max_agents: int = 3
    agent_size: tuple = (0.25, 0.45)  # an agent's side, as a share of the frame (uniform)
    max_speed: float = 0.08      # an agent's speed per axis, share of the frame per frame
    change: float = 1.0          # chance per step that an agent's velocity is redrawn
    stop: float = 0.15           # chance that a drawn velocity is zero (the agent stops)
    appear: float = 0.25         # chance that an agent is hidden at first and appears at a random step
    camera_still: float = 0.3    # chance per clip that the camera stands still
    camera_speed: float = 0.03   # pan per axis, share of the frame per frame
    camera_zoom: float = 0.02    # log scale per frame
    camera_turn: float = 0.03    # radians per frame
    exogenous: float = 0.5       # chance per clip of a drifting, flickering texture region


@dataclasses.dataclass(frozen=True)
class Motion:
    """What moved in one clip (F frames, A = max_agents; absent agents are never visible)."""
    agent_position: np.ndarray   # int32 (F, A, 2): each agent's top-left corner (row, col) in the frame
    agent_velocity: np.ndarray   # int32 (F, A, 2): pixels moved from the previous frame (0 at frame 0)
    agent_visible: np.ndarray    # bool (F, A): present in the scene (it may still be outside the frame)
    camera: np.ndarray           # float32 (F, 4): pan (right, down) in pixels, log zoom, turn (rad),
    #                              each from the previous frame


def load_photos(path: str, min_size: int, report: dict | None = None) -> dict[str, np.ndarray]:
    """name -> RGB uint8 photo: scikit-image's (path "skimage") or every image under a folder.

    Unreadable images and images with a side under `min_size` are skipped and named in
    report["bad_files"]; none usable is an error.
    """
    photos, bad = {}, {}
    if path == BUILTIN:
        import skimage.data
        for name in SKIMAGE_PHOTOS:
            image = skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()
            photos[name] = _rgb(image)
    elif os.path.isdir(path):
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs
                       if f.lower().endswith(IMAGE_EXTENSIONS))
        for file in files:
            try:
                image = _read_image(file)
            except Exception as e:  # noqa: BLE001 -- any decoder failure makes the file unusable
                bad[file] = f"cannot be read as an image ({type(e).__name__}: {e})"
                continue
            if min(image.shape[:2]) < min_size:
                bad[file] = f"is {image.shape[1]}x{image.shape[0]}, smaller than {min_size} px on a side"
                continue
            photos[os.path.relpath(file, path)] = image
    else:
        raise DataError(f"scenes: data.path={path!r} is neither {BUILTIN!r} (scikit-image's photographs) "
                        "nor a folder of images")
    if report is not None:
        report.setdefault("bad_files", {}).update(bad)
        report["photos"] = report.get("photos", 0) + len(photos)
    if not photos:
        raise DataError(f"scenes: no usable photographs under {path} ({len(bad)} unusable; images "
                        f"{IMAGE_EXTENSIONS} of at least {min_size} px a side)")
    return photos


def _read_image(file: str) -> np.ndarray:
    import av
    with av.open(file) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).astype(np.uint8) if image.dtype.kind in "fb" else image.astype(np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    return np.ascontiguousarray(np.broadcast_to(image[..., :3], image.shape[:2] + (3,)))


def split_photos(photos: dict[str, np.ndarray], holdout: str, split: str, path: str) -> dict[str, np.ndarray]:
    """The photos of one split, chosen by name as videos are (data/clips.split_videos)."""
    # Names as paths under the folder (builtin: under "/skimage"), so hashes and patterns see
    # the names relative to it, whatever the working directory.
    base = path if os.path.isdir(path) else os.path.join(os.sep, BUILTIN)
    files = {os.path.join(base, n): n for n in photos}
    chosen = split_videos(sorted(files), base, holdout, split, "config.data.scenes.holdout", "photograph")
    return {files[f]: photos[files[f]] for f in chosen}


class Photos:
    """Photographs by name, each kept at halving resolutions so that a view samples the
    level where one of its pixels spans one to two photo pixels (no aliasing)."""

    def __init__(self, photos: dict[str, np.ndarray]):
        self.names = sorted(photos)
        self.levels, self.grey = {}, {}
        for name in self.names:
            image = photos[name]
            self.grey[name] = bool(np.array_equal(image[..., 0], image[..., 1])
                                   and np.array_equal(image[..., 1], image[..., 2]))
            levels = [np.asarray(photos[name], np.float32)]
            while min(levels[-1].shape[:2]) >= 32:
                p = levels[-1]
                h, w = p.shape[0] // 2 * 2, p.shape[1] // 2 * 2
                levels.append(p[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).mean((1, 3)))
            self.levels[name] = levels

    def __len__(self) -> int:
        return len(self.names)

    def shape(self, name: str) -> tuple[int, int]:
        return self.levels[name][0].shape[:2]


def _view(photos: Photos, name, size, centre, scale, angle):
    """The camera's view of photograph `name`: a size x size grid over the (mirrored) photo,
    `scale` photo pixels a pixel, centred at `centre` (row, col), turned by `angle`."""
    levels = photos.levels[name]
    level = min(max(int(np.log2(max(scale, 1.0))), 0), len(levels) - 1)
    photo, block = levels[level], 2 ** level
    centre, scale = (np.asarray(centre) + 0.5) / block - 0.5, scale / block
    c = (np.arange(size) + 0.5 - size / 2) * scale
    u, v = np.meshgrid(c, c)  # u: right, v: down
    cos, sin = np.cos(angle), np.sin(angle)
    return bilinear_mirrored(photo, centre[0] + v * cos + u * sin, centre[1] - v * sin + u * cos)


def _colour(photos: Photos, name, rng) -> np.ndarray:
    """A gain per channel: a random hue for a grey photograph (textures differ in colour), else 1."""
    return rng.uniform(0.4, 1.0, 3) if photos.grey[name] else np.ones(3)


def _patch(photos: Photos, rng, h, w):
    """A random crop of a random photograph, sampled to h x w (float32)."""
    name = photos.names[rng.integers(len(photos))]
    ph, pw = photos.shape(name)
    scale = rng.uniform(0.5, 2.0) * min(ph, pw) / (4 * max(h, w))
    centre = (rng.uniform(0, ph), rng.uniform(0, pw))
    grid = _view(photos, name, max(h, w), centre, max(scale, 0.25), rng.uniform(-0.3, 0.3))
    return (grid[:h, :w] * _colour(photos, name, rng)).astype(np.uint8)


def generate_scene(photos: Photos, cfg: SceneConfig, seed) -> tuple[np.ndarray, Motion]:
    """One clip (uint8 (F, S, S, 3)) and what moved in it, from `seed` (an int or a sequence of ints)."""
    rng = np.random.default_rng(seed)
    s, f, k = cfg.image_size, cfg.frames, cfg.frames_per_step
    steps = -(-f // k)

    # The camera: a photograph, where it looks, how far it is, and its motion per step.
    background = photos.names[rng.integers(len(photos))]
    bh, bw = photos.shape(background)
    colour = _colour(photos, background, rng)
    centre = np.array([rng.uniform(0, bh), rng.uniform(0, bw)])
    log_scale = np.log(rng.uniform(0.6, 1.0) * min(bh, bw) / s / 2)  # the view shows a quarter to a half
    angle = rng.uniform(-0.2, 0.2)
    still = rng.random() < cfg.camera_still
    limits = np.array([cfg.camera_speed * s, cfg.camera_speed * s, cfg.camera_zoom, cfg.camera_turn])
    camera_step = np.zeros((steps, 4))
    if not still:
        camera_step[0] = rng.uniform(-limits, limits)
        for t in range(1, steps):
            camera_step[t] = rng.uniform(-limits, limits) if rng.random() < cfg.change else camera_step[t - 1]

    # The agents: a textured cut-out each, a start, an appearance step and a velocity per step.
    a = rng.integers(cfg.min_agents, cfg.max_agents + 1)
    textures, masks = [], []
    position = np.zeros((cfg.max_agents, 2), np.int64)
    appears = np.full(cfg.max_agents, steps)  # never, for absent agents
    speed = max(1, round(cfg.max_speed * s))
    velocity = np.zeros((steps, cfg.max_agents, 2), np.int64)
    for j in range(a):
        h, w = (np.round(rng.uniform(*cfg.agent_size, 2) * s).astype(int)).clip(2, s)
        textures.append(_patch(photos, rng, h, w))
        yy, xx = np.mgrid[:h, :w]
        ellipse = ((yy + 0.5 - h / 2) / (h / 2)) ** 2 + ((xx + 0.5 - w / 2) / (w / 2)) ** 2 <= 1
        masks.append(ellipse if rng.random() < 0.6 else np.ones((h, w), bool))
        position[j] = rng.integers(-h // 2, s - h // 2), rng.integers(-w // 2, s - w // 2)
        appears[j] = rng.integers(1, steps) if (steps > 1 and rng.random() < cfg.appear) else 0
        for t in range(steps):
            if t == 0 or rng.random() < cfg.change:
                velocity[t, j] = 0 if rng.random() < cfg.stop else rng.integers(-speed, speed + 1, 2)
            else:
                velocity[t, j] = velocity[t - 1, j]

    # Motion no agent causes: a texture region that drifts and flickers.
    region = None
    if rng.random() < cfg.exogenous:
        rh, rw = (np.round(rng.uniform(0.25, 0.5, 2) * s).astype(int)).clip(2, s)
        r0, c0 = rng.integers(0, s - rh + 1), rng.integers(0, s - rw + 1)
        texture = _patch(photos, rng, 2 * rh, 2 * rw).astype(np.float32)
        drift = rng.uniform(-0.1, 0.1, 2) * s
        flicker = rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.3)
        region = (r0, c0, rh, rw, texture, drift, flicker)

    video = np.empty((f, s, s, 3), np.uint8)
    agent_position = np.zeros((f, cfg.max_agents, 2), np.int32)
    agent_velocity = np.zeros((f, cfg.max_agents, 2), np.int32)
    agent_visible = np.zeros((f, cfg.max_agents), bool)
    camera = np.zeros((f, 4), np.float32)
    for i in range(f):
        t = i // k
        if i:
            pan_right, pan_down, zoom, turn = camera_step[t]
            scale = np.exp(log_scale)
            cos, sin = np.cos(angle), np.sin(angle)
            centre = centre + scale * np.array([pan_down * cos + pan_right * sin, pan_right * cos - pan_down * sin])
            log_scale, angle = log_scale + zoom, angle + turn
            camera[i] = camera_step[t]
            position = position + velocity[t]
            agent_velocity[i] = velocity[t]
        frame = (_view(photos, background, s, centre, np.exp(log_scale), angle) * colour).astype(np.uint8)
        if region is not None:
            r0, c0, rh, rw, texture, drift, (freq, phase, depth) = region
            dr, dc = np.floor(drift * i).astype(int)
            rows, cols = (np.arange(rh) + dr) % texture.shape[0], (np.arange(rw) + dc) % texture.shape[1]
            gain = 1 + depth * np.sin(freq * i + phase)
            frame[r0:r0 + rh, c0:c0 + rw] = np.clip(texture[rows][:, cols] * gain, 0, 255).astype(np.uint8)
        for j in range(a):
            if t < appears[j]:
                continue
            agent_visible[i, j] = True
            _paste(frame, textures[j], masks[j], position[j])
        agent_position[i] = position
        video[i] = frame
    return video, Motion(agent_position, agent_velocity, agent_visible, camera)


def _paste(frame, texture, mask, corner):
    """Draws texture where mask is set, its top-left at corner (row, col), clipped to the frame."""
    s = frame.shape[0]
    h, w = mask.shape
    r, c = int(corner[0]), int(corner[1])
    r0, c0, r1, c1 = max(r, 0), max(c, 0), min(r + h, s), min(c + w, s)
    if r0 >= r1 or c0 >= c1:
        return
    m = mask[r0 - r:r1 - r, c0 - c:c1 - c]
    frame[r0:r1, c0:c1][m] = texture[r0 - r:r1 - r, c0 - c:c1 - c][m]


class SceneClips(grain.transforms.RandomMap):
    """Record (a clip number) -> {"video": the clip drawn from (seed, clip number)}.

    The clip depends on the number only, never on Grain's per-position generator, so the
    stream is the same on every host and clip i can be drawn again to look at it."""

    def __init__(self, photos: dict[str, np.ndarray], cfg: SceneConfig, seed: int):
        self.photos, self.cfg, self.seed = Photos(photos), cfg, seed

    def random_map(self, element, rng):
        return {"video": self.draw(element)[0]}

    def draw(self, number: int) -> tuple[np.ndarray, Motion]:
        """Clip `number` of the stream and what moved in it."""
        return generate_scene(self.photos, self.cfg, (self.seed, int(number)))


def step_motion(motion: Motion, frames_per_step: int) -> dict[str, np.ndarray]:
    """What moved at each transition between encoder states, t -> t+1 (the motion of the
    frames of step t+1, whose velocities hold for that step): {"camera": (T-1, 4), "agents":
    (T-1, 2 * max_agents), each agent's velocity (0 while it is absent)}."""
    first = np.arange(frames_per_step, motion.camera.shape[0], frames_per_step)  # first frame of steps 1..T-1
    agents = motion.agent_velocity[first] * motion.agent_visible[first][..., None]
    return {"camera": motion.camera[first], "agents": agents.reshape(len(first), -1).astype(np.float32)}


def scene_config(data_cfg, frames_per_step: int) -> SceneConfig:
    """The generator's settings from config.data (frames, image_size) and config.data.scenes."""
    fields = {f.name for f in dataclasses.fields(SceneConfig)}
    extra = {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in data_cfg.scenes.items() if k in fields}
    return SceneConfig(frames=data_cfg.frames, image_size=data_cfg.image_size, frames_per_step=frames_per_step,
                       **extra)


def scenes_dataset(data_cfg, path: str, seed: int, frames_per_step: int, split: str = "train",
                   report: dict | None = None, clips: int = 0):
    """(MapDataset of clip numbers, SceneClips that draws each) over the split's photographs."""
    photos = split_photos(load_photos(path, data_cfg.image_size, report), data_cfg.scenes.holdout, split, path)
    records = grain.MapDataset.range(clips or data_cfg.scenes.clips)
    return records, SceneClips(photos, scene_config(data_cfg, frames_per_step), seed)
