"""The `plan` job: a planning protocol, every method side by side, on held-out trajectories
(droid, recon) or in a simulator, closed loop (closed_loop).

    python -m lawm_jax.main --config=configs/arm.py:plan --workdir=/runs/arm_plan \
        --config.plan.path=/data/arm_test --config.plan.controller=/runs/arm_controller \
        --config.plan.baseline=/runs/arm_ac
    python -m lawm_jax.main --config=configs/metaworld.py:plan --workdir=/runs/mw_loop \
        --config.plan.protocol=closed_loop --config.plan.env=metaworld:reach \
        --config.plan.controller=/runs/mw_ctrl --config.plan.baseline=/runs/mw_ac

Methods: `random` and `zero` always; `lam` (CEM through the LAM of config.plan.controller,
driven by that controller); `lam_latent` (with plan.latent_space: CEM over that LAM's
latent actions from the prior N(0, plan.latent_prior_std^2 I), grounded into real
actions through the controller); `lam_mlp` (the same with the action-only controller of
config.plan.mlp_controller); `action_conditioned` (CEM through the baseline run of
config.plan.baseline, model.conditioning="actions"). Writes WORKDIR/plan/results.json
(means, spreads, per-episode values, seconds per plan), results.md, paths.json (every
episode's true and planned paths) and planned_paths.png (planned vs true paths of the
first config.plan.pictures episodes; tools/visualize.py --plan draws more); the closed
loop writes closed_loop_<episode>.png (each method's executed frames beside the goal;
with config.plan.decoder, a pixel decoder of the models' encoder, also the frames each
plan predicted) instead of paths.
"""
from __future__ import annotations

import json
import os

import numpy as np
from absl import logging

from lawm_jax import plots
from lawm_jax.api import load_controller, load_decoder, load_world_model
from lawm_jax.checkpoint import PLAN_DIR, RESULTS_FILE
from lawm_jax.config import check, validate
from lawm_jax.data.trajectories import action_stats, make_sim, read_trajectories
from lawm_jax.errors import ConfigError
from lawm_jax.planning.cem import CEMConfig
from lawm_jax.planning.closed_loop import CLOSED_LOOP, CLOSED_LOOP_HEADLINE, run_closed_loop
from lawm_jax.planning.planner import METRICS
from lawm_jax.planning.protocols import (HEADLINE, PROTOCOLS, latent_space_method, reference_methods, run_protocol,
                                         sample_episodes, truth_rank, world_model_method)
from lawm_jax.progress import progress_bar

PATHS_FILE = "paths.json"  # every episode's true and planned paths, per method
PATHS_PICTURE = "planned_paths.png"  # the plan job draws it; tools/visualize.py --plan again
ALL_PROTOCOLS = (*PROTOCOLS, CLOSED_LOOP)
PATH_TITLES = {"droid": "end-effector x-y displacement (m)", "recon": "camera x-y (m)"}
CEM_FIELDS = ("horizon", "samples", "elites", "iterations", "init_std", "momentum", "keep_mean",
              "straight_line")


def cem_config(plan_cfg) -> CEMConfig:
    return CEMConfig(**{k: plan_cfg[k] for k in CEM_FIELDS})


def check_plan(p) -> None:
    """Checks config.plan (the plan job's own section)."""
    check(p.protocol in ALL_PROTOCOLS, "plan.protocol", p.protocol, f"must be one of {ALL_PROTOCOLS}")
    check(p.cost in METRICS, "plan.cost", p.cost, f"must be one of {METRICS}")
    for field in ("episodes", "horizon", "samples", "elites", "iterations", "frames", "replan_every",
                  "goal_frames"):
        check(p[field] >= 1, f"plan.{field}", p[field], "must be >= 1")
    check(p.elites <= p.samples, "plan.elites", p.elites, f"must be <= plan.samples={p.samples}")
    check(p.init_std > 0, "plan.init_std", p.init_std, "must be > 0")
    check(0 <= p.momentum < 1, "plan.momentum", p.momentum, "must be in [0, 1)")
    check(p.pictures >= 0, "plan.pictures", p.pictures, "must be >= 0")
    check(p.latent_prior_std > 0, "plan.latent_prior_std", p.latent_prior_std, "must be > 0")
    if p.protocol == CLOSED_LOOP:
        check(bool(p.env), "plan.env", p.env, "must name the simulator to plan in, e.g. metaworld:reach or arm")
        check(p.replan_every <= p.horizon, "plan.replan_every", p.replan_every,
              f"must be <= plan.horizon={p.horizon} (a plan has only that many actions)")


def plan(config, workdir: str) -> dict:
    """Runs config.plan.protocol; returns the results and writes WORKDIR/plan."""
    validate(config, paths=True)
    p = config.plan
    check_plan(p)
    if p.protocol != CLOSED_LOOP and not p.path:
        raise ConfigError("config.plan.path is empty: name a folder of held-out trajectories "
                          "(tools/make_trajectories.py with another --seed than the training data's)")
    if not (p.controller or p.baseline or p.mlp_controller):
        if p.protocol == CLOSED_LOOP:
            raise ConfigError("the closed loop needs a model: set config.plan.controller, mlp_controller or baseline")
        logging.warning("no model named (config.plan.controller / mlp_controller / baseline): "
                        "only the random and zero references are run")
    runs = _load_runs(p)
    if p.protocol == CLOSED_LOOP:
        sim = make_sim(p.env, runs[0]["model"].wm.config.image_size[0], config.data.fps,  # goals: noise-free
                       policy="scripted" if p.env.startswith("metaworld:") else "random", policy_noise=0.0)
        meta = {"env": p.env, "action_names": list(sim.action_names),
                "image_size": runs[0]["model"].wm.config.image_size[0]}
        stats = runs[0]["stats"]  # the first run's training data: the random reference's range
    else:
        meta, _ = read_trajectories(p.path)
        stats = action_stats(p.path)
    methods = reference_methods(stats, p.straight_line) + model_methods(p, runs, meta, p.latent_space)
    repeat = _frames_per_state(runs)
    models = {run["name"]: run["info"] for run in runs}
    out_dir = os.path.join(workdir, PLAN_DIR)
    os.makedirs(out_dir, exist_ok=True)
    logging.info("planning (%s protocol): %d episodes, methods %s", p.protocol, p.episodes, [m.name for m in methods])
    bar = lambda n, total: progress_bar(n, total, "planning")  # noqa: E731
    if p.protocol == CLOSED_LOOP:
        try:
            # the decoder must decode every model's encoder (each checked)
            decoders = [load_decoder(p.decoder, for_run=run["info"]["world_model"]) for run in runs if p.decoder]
            decode = decoders[0].decode if decoders else None
            results = run_closed_loop(sim, methods, p.episodes, config.seed, p.horizon, len(stats["mean"]), p.frames,
                                      p.replan_every, p.goal_frames, repeat, bar, decode, p.pictures)
        finally:
            sim.close()
        for e in range(min(p.pictures, p.episodes)):
            draw_closed_loop(results, [m.name for m in methods], e, os.path.join(out_dir, f"closed_loop_{e}.png"),
                             f"{p.env}, episode {e}: replanning every {p.replan_every} frame(s)")
        where, count = p.env, p.episodes
    else:
        episodes = sample_episodes(p.path, p.episodes, p.horizon, config.seed, meta["image_size"], meta["fps"],
                                   repeat)
        results = run_protocol(p.protocol, methods, episodes, config.seed, bar)
        paths = {"true": results["true_paths"], **{m.name: results[m.name]["paths"] for m in methods}}
        with open(os.path.join(out_dir, PATHS_FILE), "w") as f:  # for tools/visualize.py
            json.dump({"protocol": p.protocol, "paths": {k: [np.asarray(e).tolist() for e in v]
                                                          for k, v in paths.items()}}, f)
        if p.pictures:
            draw_paths(paths, p.protocol, os.path.join(out_dir, PATHS_PICTURE), p.pictures)
        where, count = os.path.abspath(p.path), len(episodes)
    drop = ("paths", "frames", "imagined")
    summary = {"protocol": p.protocol, "path": where, "episodes": count,
               "headline": HEADLINE.get(p.protocol, CLOSED_LOOP_HEADLINE), "models": models, "plan": p.to_dict(),
               "methods": {m.name: {k: v for k, v in results[m.name].items() if k not in drop} for m in methods}}
    with open(os.path.join(out_dir, RESULTS_FILE), "w") as f:
        json.dump(summary, f, indent=2)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(results_table(summary) + "\n")
    logging.info("wrote %s\n%s", out_dir, results_table(summary))
    return summary


def model_methods(p, runs: list[dict], meta: dict, latent_space: bool) -> list:
    """The Methods of the runs config.plan names (each checked against the data's
    environment): CEM through each, and the LAM in latent-action space if asked."""
    cem, methods = cem_config(p), []
    for run in runs:
        _check_run(run["model"], run["action_names"], meta, run["path"])
        methods.append(world_model_method(run["name"], run["model"], run["stats"], cem, run["drive"],
                                          run["controller"], run["controller_params"], p.cost))
        if run["name"] == "lam" and latent_space:  # the same LAM, planned in latent-action space
            methods.append(latent_space_method("lam_latent", run["model"], run["stats"], cem, run["controller"],
                                               run["controller_params"], p.cost, p.latent_prior_std))
    return methods


def truth_ranks(config, draws: int = 127) -> dict:
    """For the offline protocols: how well each model's planning cost ranks the held-out
    episodes' true actions among `draws` random plans (protocols.truth_rank), on the plan
    job's episodes; {method: truth_rank(...)}. Low: the model knows the right plan, and
    planning fails elsewhere (the search, the controller's reach); near 0.5: the cost
    itself cannot tell."""
    p = config.plan
    check_plan(p)
    if p.protocol == CLOSED_LOOP or not p.path:
        raise ConfigError("truth_ranks needs an offline protocol (droid, recon) and config.plan.path")
    meta, _ = read_trajectories(p.path)
    runs = _load_runs(p)
    random = reference_methods(action_stats(p.path), p.straight_line)[0]
    episodes = sample_episodes(p.path, p.episodes, p.horizon, config.seed, meta["image_size"], meta["fps"],
                               _frames_per_state(runs))
    return {m.name: truth_rank(m, random, episodes, draws, config.seed) for m in model_methods(p, runs, meta, False)}


def _load_runs(p) -> list[dict]:
    """The model runs config.plan names: the LAM through each controller, the baseline."""
    runs = []
    for name, path in (("lam", p.controller), ("lam_mlp", p.mlp_controller)):
        if path:
            ctrl = load_controller(path)
            runs.append({"name": name, "path": path, "model": ctrl.world_model, "action_names": ctrl.action_names,
                         "stats": ctrl.action_stats, "drive": "controller", "controller": ctrl.controller,
                         "controller_params": ctrl.params,
                         "info": {"controller": os.path.abspath(path), "controller_kind": ctrl.controller.config.kind,
                                  "world_model": ctrl.world_model_dir, "step": ctrl.step}})
    if p.baseline:
        model = load_world_model(p.baseline)
        if model.wm.config.conditioning != "actions":
            raise ConfigError(f"config.plan.baseline={p.baseline!r} is a {model.wm.config.bottleneck.kind} "
                              "LAM; the baseline is a run with model.conditioning=actions")
        runs.append({"name": "action_conditioned", "path": p.baseline, "model": model,
                     "action_names": model.action_names, "stats": model.action_stats, "drive": "actions",
                     "controller": None, "controller_params": None,
                     "info": {"world_model": os.path.abspath(p.baseline), "step": model.step}})
    return runs


def draw_closed_loop(results: dict, methods: list[str], episode: int, out: str, title: str) -> str:
    """One episode of the closed loop: per method, the start and every executed frame, then
    the goal (each column labelled with the frames executed so far); beneath a method with
    imagined frames (config.plan.decoder), the frames its plans predicted, decoded."""
    goal = results["goals"][episode]["frame"]
    rows = {}
    for m in methods:
        executed = results[m]["frames"][episode]
        rows[m] = np.concatenate([executed, goal[None]])
        if episode < len(results[m].get("imagined", [])):
            rows[f"{m} (planned)"] = np.concatenate([executed[:1], results[m]["imagined"][episode], goal[None]])
    n = max(len(r) for r in rows.values())
    times = ["start"] + [str(i) for i in range(1, n - 1)] + ["goal"]
    return plots.frame_grid(rows, out, title=title, times=times)


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


def _frames_per_state(runs: list[dict]) -> int:
    """Frames per state of the runs' models (one real frame per state; 1 without runs):
    all must agree."""
    sizes = {run["model"].wm.config.encoder.frames_per_step() for run in runs}
    if len(sizes) > 1:
        raise ConfigError("the models to compare have encoders of different tubelet sizes")
    return sizes.pop() if sizes else 1
