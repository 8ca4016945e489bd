"""The `plan` job: a planning protocol on held-out trajectories, every method side by side.

    python -m lawm_jax.main --config=configs/arm.py:plan --workdir=/runs/arm_plan \
        --config.plan.path=/data/arm_test --config.plan.controller=/runs/arm_controller \
        --config.plan.baseline=/runs/arm_ac

Methods: `random` and `zero` always; `lam` (CEM through the LAM of config.plan.controller,
driven by that controller); `lam_mlp` (the same with the action-only controller of
config.plan.mlp_controller); `action_conditioned` (CEM through the baseline run of
config.plan.baseline, model.conditioning="actions"). Writes WORKDIR/plan/results.json
(means, spreads, per-episode values, seconds per plan), results.md, paths.json (every
episode's true and planned paths) and planned_paths.png (planned vs true paths of the
first config.plan.pictures episodes; tools/visualize.py --plan draws more).
"""
from __future__ import annotations

import json
import os

import numpy as np
from absl import logging

from lawm_jax import plots
from lawm_jax.api import load_controller, load_world_model
from lawm_jax.checkpoint import PLAN_DIR, RESULTS_FILE
from lawm_jax.config import check, validate
from lawm_jax.data.trajectories import action_stats, read_trajectories
from lawm_jax.errors import ConfigError
from lawm_jax.planning.cem import CEMConfig
from lawm_jax.planning.planner import METRICS
from lawm_jax.planning.protocols import (HEADLINE, PROTOCOLS, reference_methods, run_protocol, sample_episodes,
                                         world_model_method)
from lawm_jax.progress import progress_bar

PATHS_FILE = "paths.json"  # every episode's true and planned paths, per method
PATHS_PICTURE = "planned_paths.png"  # the plan job draws it; tools/visualize.py --plan again
PATH_TITLES = {"droid": "end-effector x-y displacement (m)", "recon": "camera x-y (m)"}
CEM_FIELDS = ("horizon", "samples", "elites", "iterations", "init_std", "momentum", "keep_mean",
              "straight_line")


def cem_config(plan_cfg) -> CEMConfig:
    return CEMConfig(**{k: plan_cfg[k] for k in CEM_FIELDS})


def check_plan(p) -> None:
    """Checks config.plan (the plan job's own section)."""
    check(p.protocol in PROTOCOLS, "plan.protocol", p.protocol, f"must be one of {PROTOCOLS}")
    check(p.cost in METRICS, "plan.cost", p.cost, f"must be one of {METRICS}")
    for field in ("episodes", "horizon", "samples", "elites", "iterations"):
        check(p[field] >= 1, f"plan.{field}", p[field], "must be >= 1")
    check(p.elites <= p.samples, "plan.elites", p.elites, f"must be <= plan.samples={p.samples}")
    check(p.init_std > 0, "plan.init_std", p.init_std, "must be > 0")
    check(0 <= p.momentum < 1, "plan.momentum", p.momentum, "must be in [0, 1)")
    check(p.pictures >= 0, "plan.pictures", p.pictures, "must be >= 0")


def plan(config, workdir: str) -> dict:
    """Runs config.plan.protocol; returns the results and writes WORKDIR/plan."""
    validate(config, paths=True)
    p = config.plan
    check_plan(p)
    if not p.path:
        raise ConfigError("config.plan.path is empty: name a folder of held-out trajectories "
                          "(tools/make_trajectories.py with another --seed than the training data's)")
    if not (p.controller or p.baseline or p.mlp_controller):
        logging.warning("no model named (config.plan.controller / mlp_controller / baseline): "
                        "only the random and zero references are run")
    meta, _ = read_trajectories(p.path)
    stats = action_stats(p.path)
    cem = cem_config(p)
    methods = reference_methods(stats, p.straight_line)
    models = {}
    repeat = None
    for name, path in (("lam", p.controller), ("lam_mlp", p.mlp_controller)):
        if path:
            ctrl = load_controller(path)
            _check_run(ctrl.world_model, ctrl.action_names, meta, path)
            methods.append(world_model_method(name, ctrl.world_model, ctrl.action_stats, cem, "controller",
                                              ctrl.controller, ctrl.params, p.cost))
            models[name] = {"controller": os.path.abspath(path), "controller_kind": ctrl.controller.config.kind,
                            "world_model": ctrl.world_model_dir, "step": ctrl.step}
            repeat = _repeat(repeat, ctrl.world_model)
    if p.baseline:
        model = load_world_model(p.baseline)
        if model.wm.config.conditioning != "actions":
            raise ConfigError(f"config.plan.baseline={p.baseline!r} is a {model.wm.config.bottleneck.kind} "
                              "LAM; the baseline is a run with model.conditioning=actions")
        _check_run(model, model.action_names, meta, p.baseline)
        methods.append(world_model_method("action_conditioned", model, model.action_stats, cem, "actions",
                                          metric=p.cost))
        models["action_conditioned"] = {"world_model": os.path.abspath(p.baseline), "step": model.step}
        repeat = _repeat(repeat, model)
    episodes = sample_episodes(p.path, p.episodes, p.horizon, config.seed, meta["image_size"], meta["fps"],
                               repeat or 1)
    logging.info("planning (%s protocol): %d episodes of %s, methods %s", p.protocol, len(episodes), p.path,
                 [m.name for m in methods])
    results = run_protocol(p.protocol, methods, episodes, config.seed,
                           lambda n, total: progress_bar(n, total, "planning"))
    out_dir = os.path.join(workdir, PLAN_DIR)
    os.makedirs(out_dir, exist_ok=True)
    paths = {"true": results["true_paths"], **{m.name: results[m.name]["paths"] for m in methods}}
    with open(os.path.join(out_dir, PATHS_FILE), "w") as f:  # for tools/visualize.py
        json.dump({"protocol": p.protocol, "paths": {k: [np.asarray(e).tolist() for e in v]
                                                      for k, v in paths.items()}}, f)
    if p.pictures:
        draw_paths(paths, p.protocol, os.path.join(out_dir, PATHS_PICTURE), p.pictures)
    summary = {"protocol": p.protocol, "path": os.path.abspath(p.path), "episodes": len(episodes),
               "headline": HEADLINE[p.protocol], "models": models, "plan": p.to_dict(),
               "methods": {m.name: {k: v for k, v in results[m.name].items() if k != "paths"} for m in methods}}
    with open(os.path.join(out_dir, RESULTS_FILE), "w") as f:
        json.dump(summary, f, indent=2)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(results_table(summary) + "\n")
    logging.info("wrote %s\n%s", out_dir, results_table(summary))
    return summary


def draw_paths(paths: dict, protocol: str, out: str, episodes: int = 8) -> str:
    """The planned against the true paths of the first `episodes` episodes, as a PNG
    (its folder is created)."""
    if episodes < 1:
        raise ConfigError(f"episodes={episodes}: draw at least one episode")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    return plots.planned_paths({k: v[:episodes] for k, v in paths.items()}, out, PATH_TITLES[protocol])


def draw_plan(workdir: str, out: str = "", episodes: int = 8) -> str:
    """PATHS_PICTURE (or `out`) of a plan job's workdir, from its paths.json."""
    path = os.path.join(workdir, PLAN_DIR, PATHS_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: {workdir} is not the workdir of a plan job (job=plan) "
                                "that finished")
    with open(path) as f:
        saved = json.load(f)
    return draw_paths(saved["paths"], saved["protocol"], out or os.path.join(workdir, PLAN_DIR, PATHS_PICTURE),
                      episodes)


def results_table(summary: dict) -> str:
    """A Markdown table: one row per method, mean ± std of each metric, seconds per plan."""
    names = [k for k in next(iter(summary["methods"].values())) if k not in ("per_episode", "seconds_per_plan")
             and not k.endswith("_std")]
    lines = ["| method | " + " | ".join(names) + " | s / plan |", "|---" * (len(names) + 2) + "|"]
    for method, r in summary["methods"].items():
        cells = [f"{r[k]:.4f} ± {r[k + '_std']:.4f}" for k in names]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {r['seconds_per_plan']:.3f} |")
    return "\n".join(lines)


def _check_run(model, names, meta: dict, run: str):
    """The run was trained on this environment's actions and frame size."""
    if list(names or []) != list(meta["action_names"]):
        raise ConfigError(f"the run {run} was trained on actions {names}, but config.plan.path holds "
                          f"{meta['action_names']} ({meta['env']}): plan on the same environment")
    size = model.wm.config.image_size[0]
    if size != meta["image_size"]:
        raise ConfigError(f"the run {run} takes {size}px frames, but config.plan.path holds "
                          f"{meta['image_size']}px ones: regenerate them with --size={size}")


def _repeat(current, model):
    """Frames per state of the models (one real frame per state): all must agree."""
    q = model.wm.config.encoder.frames_per_step()
    if current not in (None, q):
        raise ConfigError("the models to compare have encoders of different tubelet sizes")
    return q
