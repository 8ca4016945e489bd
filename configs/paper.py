"""The paper's LAM recipe (Garrido et al. 2026, §4 and App. A).

Frozen frame-causal V-JEPA 2-L (256x256, patch 16, tubelet 2), ViT-L predictor with
per-frame AdaLN-zero, 128-d latents, 16 frames at 4 fps, batch 1024, 30k steps,
Muon lr 0.02 + AdamW lr 6.25e-4, weight decay 0.04, 10% warm-up then cosine.
About 12 h on 64 H100s in the paper.

    python tools/convert_vjepa2.py --input vitl.pt --output /ckpt/vjepa2_vitl
    python -m lawm_jax.main --config=configs/paper.py:noisy --workdir=/runs/lam_noisy \
        --config.model.encoder_checkpoint=/ckpt/vjepa2_vitl

`configs/paper.py:decoder` is the pixel decoder's job (§3.4) for the same encoder;
`configs/paper.py:controller` the controller's (§7: 3k steps, batch 256, frames
duplicated) on action-labelled trajectories (`--config.data.path=...` and
`--config.controller.world_model=` the LAM's workdir); `configs/paper.py:plan` plans with
CEM at the DROID budget (300 samples x 15 iterations, horizon 3; tools/bench_planning.py
times one replanning step at these sizes).
Bottleneck coefficients default to the paper's scaling-study values (sparse l1=0.01,
noisy beta=5e-5); sweep them with --config.model.bottleneck.l1=... or .beta=...
"""
import dataclasses

from configs import tiny
from lawm_jax.models.encoder import EncoderConfig

ACTION_DIM = 7  # DROID's end-effector deltas: position (3), rotation (3), gripper (1)


def get_config(arg: str | None = None):
    c = tiny.base_config(None if arg in (*tiny.JOB_ARGS, "plan") else arg)
    # scan over layers: the train step compiles in ~12 s instead of ~4.6 min
    # (tools/bench_compile.py, docs/PERFORMANCE.md).
    c.model.encoder = dataclasses.asdict(EncoderConfig.preset("vitl", dtype="bfloat16", remat=True, scan=True))
    # IDM: not described in the paper; 6 blocks at the encoder width (docs/DESIGN.md).
    c.model.idm = dict(width=1024, depth=6, num_heads=16, mlp_hidden=4096, dtype="bfloat16", remat=True,
                       scan=True)
    c.model.predictor = dict(width=1024, depth=24, num_heads=16, mlp_hidden=4096, residual=False, adaln_zero=True,
                             dtype="bfloat16", remat=True, scan=True)
    c.model.bottleneck.update(latent_dim=128, beta=5e-5, codebook_size=1024, reset_every=293)

    c.data.source = "video"
    c.data.cache_mb = 0  # a web-scale dataset does not fit in memory
    c.data.path = ""  # required: your videos (or shards, or a data.mixture); the bundled 88 s is a toy
    c.data.holdout = ""  # name held-out videos of data.path for the evaluate job (or set eval.path)
    c.data.frames = 16
    c.data.image_size = 256
    c.data.global_batch = 1024
    c.data.num_clips = 4096

    c.train.steps = 30_000
    c.train.adam_lr = 6.25e-4
    c.train.log_every = 100
    c.train.ckpt_every = 1000
    # The decoder (§3.4): a ViT-L like the encoder; batch 512, 90k steps, 12k warm-up.
    c.decoder.update(width=1024, depth=24, num_heads=16, mlp_hidden=4096, dtype="bfloat16", remat=True,
                     scan=True)
    # The controller (§7): 2 self-attention blocks and 1 cross-attention block at the
    # predictor's width; configs/tiny.py:controller sets the paper's training recipe.
    c.controller.update(width=1024, num_heads=16, mlp_hidden=4096, dtype="bfloat16")
    if arg == "plan":  # the DROID budget (configs/tiny.py's plan section): 300 x 15 x H 3
        c.job = "plan"
    tiny.job_recipe(c, arg)  # the controller's (App. A) and the decoder's optimiser (§3.4)
    if arg == "decoder":  # at the paper's scale: batch 512, 90k steps, 12k warm-up
        c.data.global_batch = 512
        c.train.steps = 90_000
        c.train.warmup_frac = 12_000 / 90_000
    c.lock()
    return c
