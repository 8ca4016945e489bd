"""The DROID-style planning chain on the arm simulator (fixed camera, moving gripper), CPU scale.

    python tools/make_trajectories.py --env=arm --out=/data/arm --episodes=300 --length=20 --size=32
    python tools/make_trajectories.py --env=arm --out=/data/arm_test --episodes=32 --length=20 --size=32 --seed=1
    # the LAM, on the frames alone (any bottleneck: noisy by default)
    python -m lawm_jax.main --config=configs/arm.py --workdir=/runs/arm_lam --config.data.path=/data/arm
    # the action-conditioned baseline: the same predictor on the real actions
    python -m lawm_jax.main --config=configs/arm.py:actions --workdir=/runs/arm_ac --config.data.path=/data/arm
    # the controller (real action -> the LAM's latent action); :controller_mlp for the action-only one
    python -m lawm_jax.main --config=configs/arm.py:controller --workdir=/runs/arm_ctrl \
        --config.data.path=/data/arm --config.controller.world_model=/runs/arm_lam
    # the protocol: Δxyz over 64 held-out episodes, random / zero / baseline / LAM side by side
    python -m lawm_jax.main --config=configs/arm.py:plan --workdir=/runs/arm_plan \
        --config.plan.path=/data/arm_test --config.plan.controller=/runs/arm_ctrl \
        --config.plan.baseline=/runs/arm_ac
    # optional: a pixel decoder of the LAM's encoder (rollout LPIPS, planned frames as pictures)
    python -m lawm_jax.main --config=configs/arm.py:decoder --workdir=/runs/arm_dec \
        --config.data.path=/data/arm --config.model.encoder_checkpoint=/runs/arm_lam/encoder

The encoder runs per frame (V-JEPA 2-AC's mode: each frame duplicated into its own
tubelet and encoded alone), so one state is one frame at 4 fps, one action drives each
transition, and a goal image encoded alone is the same kind of state the predictor
learns to predict. (With the frame-causal encoder a state carries its past frames: a
goal encoded alone differed from the same frame encoded in its clip by 2/3 of the change
a plan has to make, docs/RESULTS.md; `data.duplicate_frames=True` is the paper's frame
duplication for that encoder.) Clips of 4 frames (H + 1 for H = 3), 32x32 pixels.
"""
from configs import tiny

ARGS = ("sparse", "noisy", "vq", "deterministic", "unconstrained", "actions", "controller", "controller_mlp",
        "plan", "decoder")
ACTION_DIM = 4  # the arm's (dx, dy, dz, dgripper)


def get_config(arg: str | None = None):
    arg = arg or "noisy"
    if arg not in ARGS:
        raise ValueError(f"configs/arm.py:{arg}: choose one of {ARGS}")
    c = tiny.get_config(arg if arg in ARGS[:5] or arg.startswith("controller") or arg == "decoder" else "noisy")
    c.data.source = "trajectories"
    c.data.path = ""  # tools/make_trajectories.py --env=arm
    c.data.holdout = ""
    c.model.encoder["mode"] = "per_frame"
    c.data.duplicate_frames = False  # the per-frame encoder duplicates each frame itself
    c.data.flip = False
    c.data.image_size = 32  # the gripper moves ~1-2 px per step: visible, and 4x cheaper than 64
    c.data.frames = 4   # = states
    c.data.global_batch = 32
    c.train.steps = 2000
    if arg == "actions":  # the action-conditioned baseline
        c.model.conditioning = "actions"
        c.model.bottleneck.kind = "deterministic"
        c.model.bottleneck.latent_dim = ACTION_DIM
    if arg.startswith("controller"):  # the paper's recipe (tiny.py), batch 32 (paper: 256)
        c.train.steps = 3000
    if arg == "plan":
        c.job = "plan"
        c.plan.protocol = "droid"
        c.plan.horizon, c.plan.samples, c.plan.elites, c.plan.iterations = 3, 300, 10, 15
    return c
