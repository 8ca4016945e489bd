"""Fixed camera, moving agent (the DROID analogue): a MuJoCo gripper pushing blocks on a table.

The agent is a gantry gripper (a palm on a vertical rod, two fingers) moved by position
servos on three slide joints; a few free blocks lie on the table. One action per frame,
as in DROID at 4 fps:

    (dx, dy, dz, dgripper)  end-effector displacement in metres, change of gripper
                            closedness (0 open .. 1 closed)

The servo target moves by the action, clipped to the workspace; the *applied* action
(after clipping) is what `step` returns and what trajectories record, so summed actions
are the true displacement of the target, which is what the DROID protocol scores
(Δxyz). Recorded state: end-effector xyz, gripper closedness, then each block's xyz.

Rendering is headless: set MUJOCO_GL=egl before importing mujoco (`tools/make_trajectories.py`
does). Shadows and reflections are off for speed. Needs the [sim] extra.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from lawm_jax.data.random_actions import smooth_actions

os.environ.setdefault("MUJOCO_GL", "egl")
import mujoco  # noqa: E402

WORKSPACE = np.array([[-0.2, 0.2], [-0.2, 0.2], [0.06, 0.2]])  # end-effector x, y, z bounds (m)
FINGER_TRAVEL = 0.025  # m, per finger, from open to closed
BLOCK = 0.025  # block half-size (m)
COLOURS = ("0.85 0.2 0.2 1", "0.2 0.7 0.25 1", "0.2 0.35 0.85 1", "0.9 0.8 0.2 1", "0.7 0.3 0.8 1")

SCENE = """
<mujoco model="lawm_arm">
  <option timestep="0.005" integrator="implicitfast"/>
  <visual>
    <quality shadowsize="0"/>
    <global offwidth="{size}" offheight="{size}"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.6 0.6 0.6" specular="0 0 0"/>
  </visual>
  <asset>
    <texture name="wood" type="2d" builtin="checker" rgb1="0.62 0.5 0.38" rgb2="0.56 0.45 0.34"
             width="64" height="64"/>
    <material name="table" texture="wood" texrepeat="12 12" reflectance="0"/>
  </asset>
  <worldbody>
    <geom name="table" type="plane" size="1 1 0.01" material="table"/>
    <camera name="fixed" pos="0 -0.5 0.56" xyaxes="1 0 0 0 0.743 0.669" fovy="60"/>
    <body name="ee" pos="0 0 0" gravcomp="1">
      <joint name="x" type="slide" axis="1 0 0" damping="70"/>
      <joint name="y" type="slide" axis="0 1 0" damping="70"/>
      <joint name="z" type="slide" axis="0 0 1" damping="70"/>
      <geom name="palm" type="box" size="0.045 0.018 0.012" mass="0.5" rgba="0.85 0.85 0.85 1"/>
      <geom name="rod" type="cylinder" fromto="0 0 0.012 0 0 0.7" size="0.012" contype="0"
            conaffinity="0" mass="0.05" rgba="0.3 0.3 0.32 1"/>
      <body name="finger_left" pos="-0.035 0 -0.032" gravcomp="1">
        <joint name="finger_left" type="slide" axis="1 0 0" damping="5"/>
        <geom type="box" size="0.006 0.014 0.02" mass="0.05" rgba="0.25 0.25 0.25 1"/>
      </body>
      <body name="finger_right" pos="0.035 0 -0.032" gravcomp="1">
        <joint name="finger_right" type="slide" axis="-1 0 0" damping="5"/>
        <geom type="box" size="0.006 0.014 0.02" mass="0.05" rgba="0.25 0.25 0.25 1"/>
      </body>
    </body>
    {blocks}
  </worldbody>
  <actuator>
    <position joint="x" kp="2000"/>
    <position joint="y" kp="2000"/>
    <position joint="z" kp="2000"/>
    <position joint="finger_left" kp="200"/>
    <position joint="finger_right" kp="200"/>
  </actuator>
</mujoco>
"""
BLOCK_XML = """<body name="block{i}" pos="0 0 {z}"><freejoint/>
      <geom type="box" size="{h} {h} {h}" mass="0.1" friction="0.8" rgba="{rgba}"/></body>"""


@dataclasses.dataclass(frozen=True)
class ArmConfig:
    image_size: int = 64
    fps: float = 4.0
    num_blocks: int = 3
    action_scale: tuple = (0.025, 0.025, 0.02, 0.2)  # std of the random actions
    max_step: tuple = (0.05, 0.05, 0.05, 0.5)        # per-step action limits


class ArmSim:
    action_names = ("dx", "dy", "dz", "dgripper")

    def __init__(self, cfg: ArmConfig = ArmConfig()):
        if not 1 <= cfg.num_blocks <= len(COLOURS):
            raise ValueError(f"num_blocks={cfg.num_blocks}: must be in 1..{len(COLOURS)}")
        self.cfg = cfg
        blocks = "\n    ".join(BLOCK_XML.format(i=i, z=BLOCK, h=BLOCK, rgba=COLOURS[i])
                               for i in range(cfg.num_blocks))
        self.model = mujoco.MjModel.from_xml_string(SCENE.format(size=cfg.image_size, blocks=blocks))
        self.data = mujoco.MjData(self.model)
        self.substeps = max(1, round(1.0 / (cfg.fps * self.model.opt.timestep)))
        self.renderer = mujoco.Renderer(self.model, cfg.image_size, cfg.image_size)
        self.renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        self.renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        self.ee = self.model.body("ee").id
        self.blocks = [self.model.body(f"block{i}").id for i in range(cfg.num_blocks)]
        self.target = np.zeros(4)  # servo targets: x, y, z, closedness

    @property
    def state_names(self) -> tuple:
        blocks = tuple(f"block{i}_{a}" for i in range(self.cfg.num_blocks) for a in "xyz")
        return ("ee_x", "ee_y", "ee_z", "gripper") + blocks

    def reset(self, rng: np.random.Generator) -> None:
        """Random gripper pose and non-overlapping block positions, then settle."""
        mujoco.mj_resetData(self.model, self.data)
        self.target = np.array([*rng.uniform(WORKSPACE[:, 0], WORKSPACE[:, 1]), rng.uniform()])
        placed = []
        for body in self.blocks:
            while True:  # rejection sampling; the table has room for all COLOURS blocks
                xy = rng.uniform(-0.17, 0.17, 2)
                if all(np.linalg.norm(xy - p) > 4 * BLOCK for p in placed):
                    break
            placed.append(xy)
            adr = self.model.jnt_qposadr[self.model.body_jntadr[body]]
            yaw = rng.uniform(-np.pi, np.pi)
            self.data.qpos[adr:adr + 7] = [*xy, BLOCK, np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]
        # Start the gripper above the blocks so that the reset does not push them.
        self.data.qpos[:3] = [*self.target[:2], WORKSPACE[2, 1]]
        self._set_ctrl(np.array([*self.target[:2], WORKSPACE[2, 1], self.target[3]]))
        self._run(self.substeps)
        self._set_ctrl(self.target)
        self._run(4 * self.substeps)  # servo to the start pose, blocks come to rest

    def step(self, action) -> np.ndarray:
        """Moves the servo targets by `action` over one frame; returns the applied action."""
        action = np.clip(np.asarray(action, np.float64), -np.array(self.cfg.max_step), self.cfg.max_step)
        new = self.target + action
        new[:3] = np.clip(new[:3], WORKSPACE[:, 0], WORKSPACE[:, 1])
        new[3] = np.clip(new[3], 0.0, 1.0)
        applied, start = new - self.target, self.target
        self.target = new
        # Ramp the targets over the first half of the frame, then hold: smooth motion that
        # has settled by the time the next frame is taken.
        ramp = self.substeps // 2
        for k in range(self.substeps):
            self._set_ctrl(start + min(1.0, (k + 1) / ramp) * applied)
            mujoco.mj_step(self.model, self.data)
        return applied.astype(np.float32)

    def state(self) -> np.ndarray:
        ee = self.data.xpos[self.ee]
        closed = self.data.qpos[3:5].mean() / FINGER_TRAVEL
        blocks = [self.data.xpos[b] for b in self.blocks]
        return np.concatenate([ee, [closed], *blocks]).astype(np.float32)

    def render(self) -> np.ndarray:
        self.renderer.update_scene(self.data, camera="fixed")
        return self.renderer.render()

    def episode_actions(self, rng: np.random.Generator, length: int) -> np.ndarray:
        """Random smooth actions for one episode (record_episode)."""
        return smooth_actions(rng, length, self.cfg.action_scale)

    def close(self) -> None:
        self.renderer.close()

    def _set_ctrl(self, target) -> None:
        self.data.ctrl[:] = [*target[:3], target[3] * FINGER_TRAVEL, target[3] * FINGER_TRAVEL]

    def _run(self, steps: int) -> None:
        for _ in range(steps):
            mujoco.mj_step(self.model, self.data)
