"""Action-labelled trajectories: the project's format, windows for training, smooth actions.

A trajectory folder holds `episodes-NNNNN.array_record` files and `trajectories.json`
(env, fps, image_size, action_names, state_names, episode lengths, generator arguments).
Each record is one episode in numpy's .npz format (no pickle), with

    frames   uint8   (T, H, W, 3)   what the camera saw at 0, 1/fps, 2/fps, ...
    actions  float32 (T - 1, A)     actions[t] takes frames[t] to frames[t + 1]
    states   float32 (T, S)         ground truth at each frame (end-effector, camera pose...)

The simulators (`sim_arm.py`, `sim_camera.py`) write it through `tools/make_trajectories.py`;
a converter from any other labelled data only has to yield such dicts.
"""
from __future__ import annotations

import dataclasses
import io
import zipfile

import grain
import numpy as np

from lawm_jax.data.shards import decode_array, read_records, write_records
from lawm_jax.errors import DataError

META_FILE = "trajectories.json"
# sim_arm.py, sim_camera.py, sim_dmc.py (e.g. dmc:cheetah-run), sim_metaworld.py (e.g. metaworld:reach)
ENVS = ("arm", "camera", "dmc:DOMAIN-TASK", "metaworld:TASK")
EXTRAS = {"dmc:": "dmc", "metaworld:": "metaworld"}  # env prefix -> the extra it needs (else [sim])
FIELDS = ("frames", "actions", "states")


def encode_episode(episode: dict) -> bytes:
    frames, actions, states = (np.asarray(episode[k]) for k in FIELDS)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if len(actions) != len(frames) - 1 or len(states) != len(frames):
        raise ValueError(f"an episode of {len(frames)} frames needs {len(frames) - 1} actions and "
                         f"{len(frames)} states, got {len(actions)} and {len(states)}")
    buf = io.BytesIO()
    np.savez(buf, frames=frames, actions=actions.astype(np.float32), states=states.astype(np.float32))
    return buf.getvalue()


def decode_episode(record: bytes) -> dict:
    """An `encode_episode` record (an .npz: a zip of .npy files) back to its arrays; the
    .npy members go through `decode_array` (no ast parsing in Grain's reader threads)."""
    with zipfile.ZipFile(io.BytesIO(record)) as npz:
        return {k: decode_array(npz.read(f"{k}.npy")) for k in FIELDS}


def write_trajectories(episodes, out_dir: str, meta: dict, records_per_shard: int = 64,
                       progress=None) -> int:
    """Writes an iterable of episode dicts to a new folder; returns the count. The meta
    file also gets the episode lengths and the actions' statistics (`action_stats`)."""
    lengths, actions = [], []

    def records():
        for episode in episodes:
            lengths.append(len(episode["frames"]))
            actions.append(np.asarray(episode["actions"], np.float32))
            yield encode_episode(episode)

    return write_records(records(), out_dir, META_FILE,
                         lambda: {**meta, "lengths": lengths, "action_stats": _action_stats(actions)},
                         "episodes", records_per_shard, progress)


def _action_stats(actions: list) -> dict:
    a = np.concatenate(actions).astype(np.float64)
    return {"mean": a.mean(0).tolist(), "std": a.std(0).tolist(), "low": a.min(0).tolist(),
            "high": a.max(0).tolist()}


def action_stats(path: str) -> dict:
    """Per-dimension mean, std, low and high of a trajectory folder's actions (from its
    meta file; computed from the episodes for folders written before it kept them)."""
    meta, episodes = read_trajectories(path)
    if "action_stats" in meta:
        return meta["action_stats"]
    return _action_stats([episodes[i]["actions"] for i in range(len(episodes))])


def normalize_actions(actions, stats: dict):
    """Actions in the data's units -> zero mean, unit std per dimension (what the models
    and the planner see; a constant dimension stays 0)."""
    std = np.maximum(np.asarray(stats["std"], np.float32), 1e-8)
    return (np.asarray(actions, np.float32) - np.asarray(stats["mean"], np.float32)) / std


def denormalize_actions(actions, stats: dict):
    """The inverse of normalize_actions: back to the data's units (metres, radians...)."""
    std = np.maximum(np.asarray(stats["std"], np.float32), 1e-8)
    return np.asarray(actions, np.float32) * std + np.asarray(stats["mean"], np.float32)


def read_trajectories(path: str) -> tuple[dict, grain.MapDataset]:
    """(meta, MapDataset of episode dicts) of a trajectory folder."""
    meta, source = read_records(path, META_FILE, "tools/make_trajectories.py")
    return meta, grain.MapDataset.source(source).map(decode_episode)


def trajectory_windows(path: str, frames: int, size: int | None = None, fps: float | None = None,
                       stride: int = 1, repeat: int = 1) -> grain.MapDataset:
    """Every window of `frames` consecutive frames (starts `stride` apart) of every episode.

    Elements: {"video": (frames, H, W, 3) uint8, "actions": (frames - 1, A), "states":
    (frames, S), "episode": its number}, actions[i] taking video[i] to video[i + 1]. `size` and `fps`, if given,
    must match what the folder holds. repeat > 1 duplicates every frame that many times
    (video (frames * repeat, ...)): the paper's frame duplication, so that an encoder
    whose tubelet spans `repeat` frames gives one state per real frame and one real
    action per transition between states.
    """
    meta, episodes = read_trajectories(path)
    if size is not None and meta["image_size"] != size:
        raise DataError(f"trajectories in {path} are {meta['image_size']}px; the config asks for "
                        f"data.image_size={size} (regenerate with --size={size})")
    if fps is not None and not np.isclose(meta["fps"], fps):
        raise DataError(f"trajectories in {path} are at {meta['fps']} fps; the config asks for "
                        f"data.fps={fps} (regenerate with --fps={fps})")
    starts = [(e, s) for e, n in enumerate(meta["lengths"]) for s in range(0, n - frames + 1, stride)]
    if not starts:
        raise DataError(f"no episode in {path} has {frames} frames (lengths "
                        f"{sorted(set(meta['lengths']))}); use longer episodes or fewer data.frames")

    def window(i):
        e, s = starts[i]
        ep = episodes[e]
        return {"video": np.repeat(ep["frames"][s:s + frames], repeat, axis=0),
                "actions": ep["actions"][s:s + frames - 1],
                "states": ep["states"][s:s + frames], "episode": e}

    return grain.MapDataset.range(len(starts)).map(window)


def record_episode(sim, rng: np.random.Generator, length: int) -> dict:
    """One episode of `length` frames from a simulator under its episode's actions.

    `sim` has reset(rng), episode_actions(rng, n) (random smooth ones; sim_metaworld.py:
    None where its scripted policy drives a frame), step(action) -> the applied action,
    state() and render() (see sim_arm.py, sim_camera.py, sim_dmc.py, sim_metaworld.py).
    """
    sim.reset(rng)
    frames, states, applied = [sim.render()], [sim.state()], []
    for action in sim.episode_actions(rng, length - 1):
        applied.append(sim.step(action))
        frames.append(sim.render())
        states.append(sim.state())
    return {"frames": np.stack(frames), "actions": np.stack(applied).reshape(length - 1, -1),
            "states": np.stack(states)}


def make_sim(env: str, size: int, fps: float, photos=None, blocks: int = 3, policy: str = "random",
             policy_noise: float | None = None):
    """One of the simulators (the [sim] extra, or EXTRAS'), imported only when asked for.
    policy, policy_noise: Metaworld's episodes (None: MetaworldConfig's noise)."""
    try:
        return _make_sim(env, size, fps, photos, blocks, policy, policy_noise)
    except ModuleNotFoundError as e:
        extra = next((x for prefix, x in EXTRAS.items() if env.startswith(prefix)), "sim")
        raise ImportError(f"{e.name} is missing: env={env!r} needs the [{extra}] extra "
                          f'(pip install -e ".[{extra}]")', name=e.name) from e
    except OSError as e:  # a MuJoCo 4 core left behind by pip's downgrade to Metaworld's 3.3.0
        if "libmujoco" not in str(e):
            raise
        raise ImportError(f"MuJoCo does not load ({e}): pip uninstall mujoco mujoco-core mujoco-studio "
                          'mujoco-studio-wasm, then pip install -e ".[sim]" again') from e


def _make_sim(env, size, fps, photos, blocks, policy, policy_noise):
    if env == "arm":
        from lawm_jax.data.sim_arm import ArmConfig, ArmSim
        return ArmSim(ArmConfig(image_size=size, fps=fps, num_blocks=blocks))
    if env == "camera":
        from lawm_jax.data.sim_camera import CameraConfig, CameraSim
        cfg = CameraConfig(image_size=size, fps=fps)
        return CameraSim(dataclasses.replace(cfg, photos=tuple(photos)) if photos else cfg)
    if env.startswith("dmc:"):
        from lawm_jax.data.sim_dmc import DmcConfig, DmcSim, parse_env
        domain, task = parse_env(env)
        return DmcSim(DmcConfig(domain=domain, task=task, image_size=size, fps=fps))
    if env.startswith("metaworld:"):
        from lawm_jax.data.sim_metaworld import MetaworldConfig, MetaworldSim, task_name
        noise = {} if policy_noise is None else {"policy_noise": policy_noise}
        return MetaworldSim(MetaworldConfig(task=task_name(env), image_size=size, fps=fps, policy=policy, **noise))
    raise ValueError(f"env={env!r}: choose one of {ENVS}")


def generate_trajectories(env: str, out: str, episodes: int, length: int, size: int = 64,
                          fps: float = 4.0, seed: int = 0, photos=None, blocks: int = 3,
                          policy: str = "random", progress=None) -> int:
    """Writes `episodes` episodes of `length` frames of simulator `env` to a new folder `out`."""
    if length < 2:
        raise ValueError(f"length={length}: an episode needs at least 2 frames")
    sim = make_sim(env, size, fps, photos, blocks, policy)
    meta = {"env": env, "fps": fps, "image_size": size, "action_names": list(sim.action_names),
            "state_names": list(sim.state_names), "seed": seed,
            "config": {k: list(v) if isinstance(v, tuple) else v
                       for k, v in dataclasses.asdict(sim.cfg).items()}}

    def episodes_iter():
        for i in range(episodes):
            yield record_episode(sim, np.random.default_rng([seed, i]), length)

    try:
        return write_trajectories(episodes_iter(), out, meta,
                                  progress=progress and (lambda n: progress(n, episodes)))
    finally:
        sim.close()
