"""DeepMind Control Suite bodies under random smooth actions: the paper's "no common
embodiment" (cheetahs, walkers, fingers, cartpoles... each with its own action space).

    env "dmc:cheetah-run"  ->  dm_control.suite.load("cheetah", "run")

One action per frame, held over the control steps of 1 / fps seconds (25 at 4 fps for the
cheetah's 0.01 s control step), so each frame shows a visible change. Random actions are
`smooth_actions` around the middle of the action bounds, with a std of `action_scale` of
the half-range, clipped to the bounds; the clipped action is what `step` returns and what
trajectories record. Recorded state: the physics' qpos then qvel, named after the joints.
Episode seeds set the task's initial state (its `random`), so episodes replay exactly.

Rendering is headless (MUJOCO_GL=egl, as sim_arm.py); at about 20 ms a frame on a CPU,
clips are written ahead with `tools/make_trajectories.py --env=dmc:DOMAIN-TASK` and read
as `trajectories` (alone or in a data.mixture), never rendered while training. Needs the
[dmc] extra (dm_control; tested: 1.0.52 on MuJoCo 4.0.1, 1.0.28 on MuJoCo 3.3.0).
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from lawm_jax.data.random_actions import smooth_actions

os.environ.setdefault("MUJOCO_GL", "egl")

PREFIX = "dmc:"


@dataclasses.dataclass(frozen=True)
class DmcConfig:
    domain: str = "cheetah"
    task: str = "run"
    image_size: int = 64
    fps: float = 4.0
    camera: int = 0              # the suite's camera id (0: each domain's tracking or fixed view)
    action_scale: float = 0.6    # std of the random actions, as a share of the half-range
    correlation: float = 0.8     # of consecutive actions (smooth_actions)


def parse_env(env: str) -> tuple[str, str]:
    """"dmc:cheetah-run" -> ("cheetah", "run"), checked against the installed suite."""
    from dm_control import suite
    name = env.removeprefix(PREFIX)
    domain, _, task = name.partition("-")
    if (domain, task) not in suite.ALL_TASKS:
        known = ", ".join(f"{PREFIX}{d}-{t}" for d, t in suite.ALL_TASKS[:8])
        raise ValueError(f"env={env!r}: no such dm_control task; name one as {PREFIX}DOMAIN-TASK, e.g. {known}, ...")
    return domain, task


class DmcSim:
    """One dm_control task behind the simulator interface of trajectories.record_episode."""

    def __init__(self, cfg: DmcConfig):
        from dm_control import suite
        if (cfg.domain, cfg.task) not in suite.ALL_TASKS:
            parse_env(f"{PREFIX}{cfg.domain}-{cfg.task}")  # raises, naming the task
        self.cfg = cfg
        self.env = self._load(0)
        spec = self.env.action_spec()
        self.low, self.high = spec.minimum.astype(np.float64), spec.maximum.astype(np.float64)
        model = self.env.physics.model
        self.action_names = tuple(model.id2name(i, "actuator") or f"a{i}" for i in range(model.nu))
        self.control_steps = max(1, round(1.0 / (cfg.fps * self.env.control_timestep())))
        named = self.env.physics.named.data
        self.state_names = (_names(named.qpos.axes.row.names, model.nq, "qpos")
                            + _names(named.qvel.axes.row.names, model.nv, "qvel", "v_"))

    def _load(self, seed: int):
        from dm_control import suite
        # No time limit: an episode is as long as the trajectory asks, never cut by the task.
        return suite.load(self.cfg.domain, self.cfg.task, task_kwargs={"random": seed, "time_limit": float("inf")})

    def reset(self, rng: np.random.Generator) -> None:
        """The task's own random initial state, drawn from rng."""
        self.env = self._load(int(rng.integers(2**31 - 1)))
        self.env.reset()

    def step(self, action) -> np.ndarray:
        """Holds the (clipped) action over one frame's control steps; returns it."""
        applied = np.clip(np.asarray(action, np.float64), self.low, self.high)
        for _ in range(self.control_steps):
            self.env.step(applied)
        return applied.astype(np.float32)

    def state(self) -> np.ndarray:
        p = self.env.physics.data
        return np.concatenate([p.qpos, p.qvel]).astype(np.float32)

    def render(self) -> np.ndarray:
        s = self.cfg.image_size
        return np.ascontiguousarray(self.env.physics.render(s, s, camera_id=self.cfg.camera))

    def episode_actions(self, rng: np.random.Generator, length: int) -> np.ndarray:
        """Random smooth actions for one episode (record_episode)."""
        half = (self.high - self.low) / 2
        return smooth_actions(rng, length, self.cfg.action_scale * half, self.cfg.correlation,
                              mean=(self.high + self.low) / 2)

    def close(self) -> None:
        self.env.close()


def _names(joints, n: int, fallback: str, prefix: str = "") -> tuple:
    """One name per coordinate: the joints' (hinges and slides), else numbered (free and
    ball joints span several coordinates)."""
    return tuple(prefix + j for j in joints) if len(joints) == n else tuple(f"{fallback}{i}" for i in range(n))
