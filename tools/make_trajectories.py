"""Writes action-labelled trajectories from a simulator (the [sim] extra; dmc: [dmc]; metaworld: [metaworld]).

    python tools/make_trajectories.py --env=arm --out=/data/arm_train --episodes=200
    python tools/make_trajectories.py --env=arm --out=/data/arm_val --episodes=16 --seed=1
    python tools/make_trajectories.py --env=camera --out=/data/cam_train --episodes=200 \
        --photos=astronaut,coffee,chelsea,rocket,motorcycle
    python tools/make_trajectories.py --env=camera --out=/data/cam_val --episodes=16 --seed=1 \
        --photos=hubble_deep_field,retina
    python tools/make_trajectories.py --env=dmc:cheetah-run --out=/data/cheetah --episodes=100
    python tools/make_trajectories.py --env=metaworld:reach --out=/data/reach --episodes=200 --policy=mixed

arm: fixed camera, MuJoCo gripper pushing blocks, actions (dx, dy, dz, dgripper) (the
DROID analogue); camera: a camera moving over photographs, actions (forward, left, yaw)
(the RECON analogue); dmc:DOMAIN-TASK: a DeepMind Control Suite body under random smooth
actions (the [dmc] extra; lawm_jax/data/sim_dmc.py); metaworld:TASK: Metaworld's Sawyer arm
on one of its tasks, under random smooth actions or the task's scripted policy (--policy;
the [metaworld] extra; lawm_jax/data/sim_metaworld.py). Episode i is generated from seed (--seed, i), so any episode can be
regenerated alone. Output: lawm_jax/data/trajectories.py's format, readable as training
data with --config.data.source=trajectories.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering, before mujoco is imported

from absl import app, flags  # noqa: E402

from lawm_jax.data.trajectories import ENVS, generate_trajectories  # noqa: E402
from lawm_jax.cli import run_main  # noqa: E402
from lawm_jax.progress import progress_bar  # noqa: E402

_ENV = flags.DEFINE_string("env", None, f"which simulator: one of {ENVS}")
_OUT = flags.DEFINE_string("out", None, "new folder for the trajectories")
_EPISODES = flags.DEFINE_integer("episodes", 100, "number of episodes")
_LENGTH = flags.DEFINE_integer("length", 32, "frames per episode")
_SIZE = flags.DEFINE_integer("size", 64, "frame size (square)")
_FPS = flags.DEFINE_float("fps", 4.0, "frames (and actions) per second")
_SEED = flags.DEFINE_integer("seed", 0, "seed; use another one for held-out episodes")
_PHOTOS = flags.DEFINE_list("photos", None, "camera: scikit-image photos to fly over")
_BLOCKS = flags.DEFINE_integer("blocks", 3, "arm: number of blocks on the table")
_POLICY = flags.DEFINE_enum("policy", "random", ["random", "scripted", "mixed"],
                            "metaworld: random smooth actions, the task's scripted policy, or half each")


def main(argv):
    del argv
    if not _ENV.value or not _OUT.value:
        raise app.UsageError("--env and --out are required")
    try:
        count = generate_trajectories(
            _ENV.value, _OUT.value, _EPISODES.value, _LENGTH.value, _SIZE.value, _FPS.value,
            _SEED.value, _PHOTOS.value, _BLOCKS.value, _POLICY.value,
            progress=lambda n, total: progress_bar(n, total, "episodes"))
    except (ValueError, FileExistsError) as e:  # a missing [sim] package: run_main says what to install
        print(f"make_trajectories: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"wrote {count} episodes of {_LENGTH.value} frames to {_OUT.value}")


if __name__ == "__main__":
    run_main(main)  # a missing simulator package or unwritable --out: one line (--debug: its traceback)
