"""Metaworld's Sawyer arm (the benchmark JEPA-WMs plans on), as a simulator of the project.

    env "metaworld:reach"  ->  metaworld's reach-v3 (push, button-press, ... likewise)

One action per frame, as DROID's and the arm's (sim_arm.py):

    (dx, dy, dz, gripper)  end-effector (mocap) displacement in metres over the frame,
                           and the gripper command in [-1, 1] (1 closes)

A frame is round(1 / (fps * 0.0125 s)) Metaworld steps (20 at 4 fps); a frame's action
is split evenly over them (Metaworld moves the mocap target by at most 1 cm a step). The
*applied* displacement (the mocap target's, after Metaworld's workspace clipping) is what
`step` returns and what trajectories record. Episodes are driven by random smooth actions
or by the task's scripted policy (metaworld.policies, with Gaussian noise on its actions)
per `policy`; a scripted frame records the displacement and mean gripper command its
steps applied. Each episode's seed draws the task's object and goal positions.

Recorded state: end-effector (tool centre) xyz, the gripper's opening (Metaworld's own
measure, 0 closed .. 1 open), the object's xyz, the goal's xyz. `success()` is
Metaworld's own criterion for the task.

Frames: the named Metaworld camera ("corner" by default) at image_size, turned upright
(Metaworld 3.1 renders them upside down). About 0.1 s a frame to render on a CPU, so
trajectories are written ahead (`tools/make_trajectories.py --env=metaworld:reach`).
Needs the [metaworld] extra (metaworld 3.1.1, which pins MuJoCo 3.3.0).
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from lawm_jax.data.random_actions import smooth_actions

os.environ.setdefault("MUJOCO_GL", "egl")

PREFIX = "metaworld:"
POLICIES = ("random", "scripted", "mixed")
STATE_NAMES = ("ee_x", "ee_y", "ee_z", "gripper", "obj_x", "obj_y", "obj_z", "goal_x", "goal_y", "goal_z")


@dataclasses.dataclass(frozen=True)
class MetaworldConfig:
    task: str = "reach"             # Metaworld's task name without "-v3"
    image_size: int = 64
    fps: float = 4.0
    camera: str = "corner"
    policy: str = "random"          # "random", "scripted", or "mixed" (scripted_share of episodes)
    scripted_share: float = 0.5
    policy_noise: float = 0.1       # std of the noise on the scripted policy's actions (in [-1, 1])
    action_scale: tuple = (0.03, 0.03, 0.03, 0.7)  # random: std per frame of dx, dy, dz (m), gripper


def task_name(env: str) -> str:
    """"metaworld:reach" -> "reach", checked against the installed Metaworld's tasks."""
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS
    task = env.removeprefix(PREFIX)
    if f"{task}-v3" not in ALL_V3_ENVIRONMENTS:
        known = ", ".join(k.removesuffix("-v3") for k in list(ALL_V3_ENVIRONMENTS)[:6])
        raise ValueError(f"env={env!r}: no such Metaworld task; name one as {PREFIX}TASK, e.g. "
                         f"{PREFIX}reach, {PREFIX}push, {PREFIX}button-press (all: {known}, ...)")
    return task


def _policy_class(task: str):
    """reach -> metaworld.policies.SawyerReachV3Policy."""
    import metaworld.policies
    name = "Sawyer" + "".join(p.capitalize() for p in task.split("-")) + "V3Policy"
    return getattr(metaworld.policies, name)


class MetaworldSim:
    """One Metaworld task behind the simulator interface of trajectories.record_episode."""

    action_names = ("dx", "dy", "dz", "gripper")
    state_names = STATE_NAMES

    def __init__(self, cfg: MetaworldConfig):
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS
        task_name(PREFIX + cfg.task)
        if cfg.policy not in POLICIES:
            raise ValueError(f"policy={cfg.policy!r}: choose one of {POLICIES}")
        self.cfg = cfg
        env = ALL_V3_ENVIRONMENTS[f"{cfg.task}-v3"](render_mode="rgb_array", width=cfg.image_size,
                                                      height=cfg.image_size, camera_name=cfg.camera)
        # As Metaworld's own goal-observable classes do (env_dict.py): no benchmark task
        # object, the goal in the observation (which the scripted policies read; the
        # observation bounds are recomputed for it), positions drawn from env.np_random.
        env._partially_observable = False
        del env.sawyer_observation_space
        env._set_task_called = True
        env.seeded_rand_vec = True
        env.max_path_length = 2**62  # episodes end when the trajectory says, not at 500 steps
        self.env = env
        self.policy = _policy_class(cfg.task)()
        self.steps = max(1, round(1.0 / (cfg.fps * env.dt)))
        self.scripted = cfg.policy == "scripted"
        self.noise = np.random.default_rng(0)
        self.obs = None

    def reset(self, rng: np.random.Generator) -> None:
        """The task's object and goal positions drawn from rng; whether the scripted policy
        drives this episode (policy "mixed")."""
        self.env._freeze_rand_vec = False
        self.env.seed(int(rng.integers(2**31 - 1)))
        self.obs, _ = self.env.reset()
        self.env._freeze_rand_vec = True
        self.scripted = self.cfg.policy == "scripted" or (
            self.cfg.policy == "mixed" and rng.random() < self.cfg.scripted_share)
        self.noise = np.random.default_rng(int(rng.integers(2**62)))

    def episode_actions(self, rng: np.random.Generator, length: int):
        """Random smooth actions, or None for each frame when the scripted policy drives."""
        if self.scripted:
            return [None] * length
        return smooth_actions(rng, length, self.cfg.action_scale)

    def step(self, action) -> np.ndarray:
        """One frame under `action` (dx, dy, dz, gripper), or, for None, the scripted
        policy's actions; returns the applied (dx, dy, dz) and the mean gripper command."""
        start = self.env.data.mocap_pos[0].copy()
        grip = []
        if action is not None:
            action = np.asarray(action, np.float64)
            per_step = np.append(action[:3] / (self.steps * self.env.action_scale), action[3])
        for _ in range(self.steps):
            if action is None:
                a = self.policy.get_action(self.obs) + self.cfg.policy_noise * self.noise.standard_normal(4)
            else:
                a = per_step
            a = np.clip(a, -1.0, 1.0)
            self.obs, *_ = self.env.step(a)
            grip.append(a[3])
        moved = self.env.data.mocap_pos[0] - start
        return np.append(moved, np.mean(grip)).astype(np.float32)

    def state(self) -> np.ndarray:
        opening = self.obs[3]
        return np.concatenate([self.env.tcp_center, [opening], self.obs[4:7], self.env._target_pos]).astype(np.float32)

    def success(self) -> bool:
        """Metaworld's own success criterion for the task, in the current state."""
        return bool(self.env.evaluate_state(self.obs, np.zeros(4))[1]["success"])

    def render(self) -> np.ndarray:
        return np.ascontiguousarray(self.env.render()[::-1])

    def close(self) -> None:
        self.env.close()
