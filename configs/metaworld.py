"""The DROID-style planning chain on Metaworld's Sawyer arm (the benchmark JEPA-WMs plans
on), CPU scale; TASK is any Metaworld task (reach, push, button-press, ...).

    python tools/make_trajectories.py --env=metaworld:reach --out=/data/mw --episodes=300 --length=20 \
        --size=32 --policy=mixed
    python tools/make_trajectories.py --env=metaworld:reach --out=/data/mw_test --episodes=32 --length=20 \
        --size=32 --policy=mixed --seed=1
    python -m lawm_jax.main --config=configs/metaworld.py --workdir=/runs/mw_lam --config.data.path=/data/mw
    python -m lawm_jax.main --config=configs/metaworld.py:actions --workdir=/runs/mw_ac --config.data.path=/data/mw
    python -m lawm_jax.main --config=configs/metaworld.py:controller --workdir=/runs/mw_ctrl \
        --config.data.path=/data/mw --config.controller.world_model=/runs/mw_lam
    python -m lawm_jax.main --config=configs/metaworld.py:plan --workdir=/runs/mw_plan \
        --config.plan.path=/data/mw_test --config.plan.controller=/runs/mw_ctrl \
        --config.plan.baseline=/runs/mw_ac

configs/arm.py's recipe and arguments: the same action layout (dx, dy, dz, gripper: the
end-effector's displacement per frame, as DROID's), per-frame states, clips of 4 frames at
32x32 (the arm and the objects are visible; the goal marker of reach is not, so goals
are given as images of the arm there). Episodes mix random smooth actions with the
task's scripted policy (--policy=mixed): random ones alone rarely touch the objects.
"""
from configs import arm

ARGS = arm.ARGS
ACTION_DIM = arm.ACTION_DIM  # (dx, dy, dz, gripper)


def get_config(arg: str | None = None):
    if arg is not None and arg not in ARGS:
        raise ValueError(f"configs/metaworld.py:{arg}: choose one of {ARGS}")
    return arm.get_config(arg)
