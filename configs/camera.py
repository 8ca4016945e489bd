"""The RECON-style planning chain on the camera simulator (a camera moving over photographs).

    python tools/make_trajectories.py --env=camera --out=/data/cam --episodes=300 --length=20 --size=32
    python tools/make_trajectories.py --env=camera --out=/data/cam_test --episodes=32 --length=20 --size=32 --seed=1
    python -m lawm_jax.main --config=configs/camera.py --workdir=/runs/cam_lam --config.data.path=/data/cam
    python -m lawm_jax.main --config=configs/camera.py:actions --workdir=/runs/cam_ac --config.data.path=/data/cam
    python -m lawm_jax.main --config=configs/camera.py:controller --workdir=/runs/cam_ctrl \
        --config.data.path=/data/cam --config.controller.world_model=/runs/cam_lam
    python -m lawm_jax.main --config=configs/camera.py:plan --workdir=/runs/cam_plan \
        --config.plan.path=/data/cam_test --config.plan.controller=/runs/cam_ctrl \
        --config.plan.baseline=/runs/cam_ac

As configs/arm.py (same arguments), but clips of 10 states, so that the
predictor has seen the 9 steps of a plan (the goal 8 steps ahead); the protocol is NWM's:
straight-line plans (one action repeated), 120 samples, 5 elites, 1 iteration; ATE, RPE.
"""
from configs import arm

ACTION_DIM = 3  # (forward, left, yaw)


def get_config(arg: str | None = None):
    c = arm.get_config(arg)
    c.data.frames = 10  # = states (per-frame encoder)
    c.data.global_batch = 16
    if c.model.conditioning == "actions":
        c.model.bottleneck.latent_dim = ACTION_DIM
    c.plan.protocol = "recon"
    c.plan.horizon, c.plan.samples, c.plan.elites, c.plan.iterations = 8, 120, 5, 1
    c.plan.straight_line = True
    return c
