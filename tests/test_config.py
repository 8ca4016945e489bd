"""Configs: the shipped ones validate, bad values fail early naming the field."""
import pytest

from configs import arm, camera, paper, scenes, tiny
from lawm_jax.config import job_config, validate
from lawm_jax.errors import ConfigError


@pytest.mark.parametrize("kind", ["sparse", "noisy", "vq", "deterministic", "unconstrained"])
def test_tiny_config_validates_for_every_bottleneck(kind):
    wm_cfg = validate(tiny.get_config(kind))
    assert wm_cfg.bottleneck.kind == kind
    assert wm_cfg.encoder.mode == "frame_causal"  # the default cannot leak the future


def test_scenes_config_is_the_reproduction_recipe():
    """configs/scenes.py: tiny's networks, the scenes stream, one state per frame, D = 128;
    its job arguments are tiny's."""
    for kind in ("sparse", "noisy", "vq", "deterministic", "unconstrained"):
        c = scenes.get_config(kind)
        wm_cfg = validate(c)
        assert (wm_cfg.bottleneck.kind, wm_cfg.bottleneck.latent_dim, wm_cfg.encoder.mode) == (kind, 128, "per_frame")
        assert (c.data.source, c.data.path, c.data.image_size) == ("scenes", "skimage", 32)
        assert wm_cfg.steps == c.data.frames  # one state per frame
    assert scenes.get_config("decoder").job == "decoder"
    assert scenes.get_config("decoder").train.adam_lr == tiny.get_config("decoder").train.adam_lr


def test_paper_config_is_the_papers_recipe():
    c = paper.get_config("noisy")
    with pytest.raises(ConfigError, match="config.data.path=''"):  # a paper run needs real data
        validate(c)
    c.data.path = "/data/videos"
    wm_cfg = validate(c)
    enc = wm_cfg.encoder
    assert (enc.width, enc.depth, enc.num_heads, enc.patch, enc.tubelet) == (1024, 24, 16, 16, 2)
    assert enc.mode == "frame_causal"
    pred = wm_cfg.predictor
    assert (pred.width, pred.depth, pred.num_heads, pred.mlp_hidden) == (1024, 24, 16, 4096)
    assert wm_cfg.bottleneck.latent_dim == 128 and wm_cfg.bottleneck.beta == 5e-5
    assert (c.data.frames, c.data.image_size, c.data.global_batch) == (16, 256, 1024)
    assert wm_cfg.steps == 8 and wm_cfg.grid == (16, 16)
    t = c.train
    assert (t.steps, t.muon_lr, t.adam_lr, t.weight_decay, t.warmup_frac) == (30_000, 0.02, 6.25e-4, 0.04, 0.1)
    sparse = paper.get_config("sparse").model.bottleneck
    assert (sparse.l1, sparse.l2, sparse.var_coef, sparse.cov_coef, sparse.mean_coef) == (0.01, 1.0, 0.1, 0.001, 0.1)
    vq = paper.get_config("vq").model.bottleneck
    assert (vq.commitment, vq.reset_every) == (0.25, 293)
    # bf16 compute, remat and scan over layers: ViT-L compiles in seconds (PERFORMANCE.md)
    for net in (enc, wm_cfg.idm, pred):
        assert (net.dtype, net.remat, net.scan) == ("bfloat16", True, True)


def test_paper_controller_and_planning_recipes():
    c = paper.get_config("controller")
    assert c.job == "controller" and c.controller.kind == "attention"
    assert (c.controller.width, c.controller.depth, c.controller.num_heads) == (1024, 2, 16)
    t = c.train
    assert (t.steps, t.adam_lr, t.weight_decay, t.warmup_frac, c.data.global_batch) == (3000, 1e-3, 0.04, 0.1, 256)
    assert c.data.duplicate_frames and c.data.source == "trajectories"  # one state per real frame
    assert paper.get_config("controller_mlp").controller.kind == "mlp"
    p = arm.get_config("plan").plan  # the DROID protocol's budget
    assert (p.protocol, p.horizon, p.samples, p.elites, p.iterations, p.episodes) == ("droid", 3, 300, 10, 15, 64)
    p = camera.get_config("plan").plan  # NWM's
    assert (p.protocol, p.horizon, p.samples, p.iterations, p.straight_line) == ("recon", 8, 120, 1, True)


@pytest.mark.parametrize("field,value,message", [
    ("model.bottleneck.kind", "gumbel", "config.model.bottleneck.kind='gumbel': must be one of"),
    ("model.encoder.mode", "causalish", "config.model.encoder.mode='causalish'"),
    ("model.encoder.num_heads", 3, "config.model.encoder.num_heads=3: must divide"),
    ("model.predictor.dtype", "float16", "config.model.predictor.dtype='float16'"),
    ("model.bottleneck.beta", -1.0, "config.model.bottleneck.beta=-1.0: must be >= 0"),
    ("data.image_size", 30, "config.data.image_size=30: must be a positive multiple of"),
    ("data.frames", 7, "config.data.frames=7: must be a multiple of"),
    ("data.frames", 2, "config.data.frames=2: gives 1 step"),
    ("data.global_batch", 1, "config.data.global_batch=1"),
    ("data.source", "youtube", "config.data.source='youtube'"),
    ("data.frame_strides", (1, 0), "config.data.frame_strides=.*0.*must be a non-empty tuple of integers >= 1"),
    ("train.steps", 0, "config.train.steps=0"),
    ("train.warmup_frac", 1.0, "config.train.warmup_frac=1.0"),
    ("job", "dance", "config.job='dance'"),
    ("features.dtype", "int8", "config.features.dtype='int8': must be one of"),
    ("features.max_clips", -1, "config.features.max_clips=-1"),
    ("mesh.collectives", "nccl", "config.mesh.collectives='nccl': must be one of"),
])
def test_bad_values_name_their_field(field, value, message):
    c = tiny.get_config()
    section = c
    *parents, leaf = field.split(".")
    for p in parents:
        section = section[p]
    with section.unlocked() if hasattr(section, "unlocked") else c.unlocked():
        section[leaf] = value
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        validate(c)


def test_unknown_fields_are_rejected():
    c = tiny.get_config()
    with pytest.raises(AttributeError, match="Did you mean"):  # the shipped configs are locked
        c.train.stepz = 3
    with c.unlocked():  # a config built by hand in a notebook is checked by validate()
        c.model.idm.depthh = 3
    with pytest.raises(ConfigError, match=r"config.model.idm=\['depthh'\]: unknown field"):
        validate(c)


def test_benchmark_configs():
    """configs/bench.py: cpu at ViT-S sizes, gpu at the paper's networks in bf16, tiny."""
    from configs import bench
    cpu, gpu = validate(bench.get_config("cpu")), validate(bench.get_config("gpu"))
    assert (cpu.encoder.width, cpu.encoder.depth, cpu.frames, cpu.image_size) == (384, 12, 16, (128, 128))
    paper_config = paper.get_config()
    paper_config.data.source = "shapes"
    paper_cfg = validate(paper_config)
    assert (gpu.encoder, gpu.idm, gpu.predictor) == (paper_cfg.encoder, paper_cfg.idm, paper_cfg.predictor)
    g = bench.get_config("gpu").bench
    assert gpu.predictor.dtype == "bfloat16" and g.train_dtypes == ["bfloat16"] == g.ns_dtypes
    # The GPU check plans at the DROID budget with the paper's networks.
    assert g.planning_configs == ["configs/paper.py"]
    plan = paper.get_config("plan")
    assert (plan.job, plan.plan.samples, plan.plan.iterations, plan.plan.horizon) == ("plan", 300, 15, 3)
    assert plan.model.predictor == paper.get_config().model.predictor and paper.ACTION_DIM == 7
    validate(bench.get_config("tiny"))
    with pytest.raises(ValueError, match="cpu, gpu or tiny"):
        bench.get_config("tpu")


def test_a_run_records_only_the_sections_its_job_reads():
    c = tiny.get_config()
    train = job_config(c)
    assert set(train) == {"job", "seed", "model", "data", "train", "mesh", "distributed"}
    assert train["train"]["steps"] == c.train.steps
    decoder = job_config(c, "decoder")
    assert decoder["job"] == "decoder" and "decoder" in decoder and "plan" not in decoder
    assert set(job_config(c, "plan")) == {"job", "seed", "plan"}


def test_paper_config_scales_tiny_up_and_keeps_its_job_recipes():
    for arg in (None, "noisy", "controller", "decoder"):
        t, p = tiny.get_config(arg), paper.get_config(arg)
        assert p.job == t.job and p.model.bottleneck.kind == t.model.bottleneck.kind
    assert paper.get_config("controller").train.steps == tiny.get_config("controller").train.steps == 3000
    assert paper.get_config("decoder").train.adam_lr == tiny.get_config("decoder").train.adam_lr == 3e-4
