"""Planning latency: wall time of one CEM replanning step through a world model.

    python tools/bench_planning.py                          # the arm and camera configs' budgets
    python tools/bench_planning.py --configs=configs/arm.py --samples=300 --iterations=15 --json=/tmp/p.json

For each config (its `plan` section gives the protocol's budget: DROID-style 300 samples
x 15 iterations x horizon 3; RECON-style 120 x 1 x 8, straight-line), builds the world
model and controller at the config's sizes with random parameters (the time does not
depend on training), encodes nothing (random context and goal states), and times the
jitted planner: all samples roll out in one batched call per step. Reports the median
of --repeats calls after one compiling call, for the LAM driven by its controller, for
the LAM planned in latent-action space then grounded into actions through its
controller (the plan job's lam_latent: both searches timed together), and for the
action-conditioned baseline (its predictor takes the actions directly).
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # configs/

import dataclasses  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

from lawm_jax.config import world_model_config  # noqa: E402
from lawm_jax.planning.planner import LatentGrounding, WorldModelPlanner  # noqa: E402
from lawm_jax.planning.run import cem_config  # noqa: E402
from lawm_jax.models.controller import Controller, init_controller  # noqa: E402
from lawm_jax.train.controller import controller_config  # noqa: E402
from lawm_jax.world_model import WorldModel  # noqa: E402


def planning_latency(config, drive: str, action_dim: int, repeats: int = 5) -> dict:
    """{"compile_s", "median_s", "min_s", "rollout_steps_per_s"} of one replanning step."""
    if drive == "actions":  # the baseline: the predictor takes the actions as latents
        config.model.conditioning = "actions"
        config.model.bottleneck.kind = "deterministic"
        config.model.bottleneck.latent_dim = action_dim
    wm_cfg = world_model_config(config)
    wm = WorldModel(wm_cfg)
    params = wm.init(jax.random.key(0))
    n, d = wm_cfg.tokens, wm_cfg.encoder.width
    controller, controller_params = None, None
    if drive in ("controller", "latent"):
        controller = Controller(controller_config(config), wm_cfg.bottleneck.latent_dim, wm_cfg.grid)
        controller_params = init_controller(controller, n, d, action_dim, jax.random.key(1))
    cem = cem_config(config.plan)
    context = jax.random.normal(jax.random.key(2), (1, n, d))
    goal = jax.random.normal(jax.random.key(3), (n, d))
    if drive == "latent":  # CEM over latents, then one grounding search per step
        search = WorldModelPlanner(wm, dataclasses.replace(cem, init_mean=0.0, init_std=1.0), wm_cfg.bottleneck.latent_dim,
                                   "latent")
        grounding = LatentGrounding(wm, controller, cem, action_dim)

        def planner(key, *args):
            return grounding(key, params, controller_params, context, search(key, params, None, context, goal).plan)
    else:
        planner = WorldModelPlanner(wm, cem, action_dim, drive, controller)
    t0 = time.perf_counter()
    jax.block_until_ready(planner(jax.random.key(0), params, controller_params, context, goal))
    compile_s = time.perf_counter() - t0
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(planner(jax.random.key(i + 1), params, controller_params, context, goal))
        times.append(time.perf_counter() - t0)
    median = float(np.median(times))
    return {"compile_s": compile_s, "median_s": median, "min_s": float(np.min(times)),
            "rollout_steps_per_s": cem.samples * cem.iterations * cem.horizon / median}


DRIVES = ("controller", "latent", "actions")


def run(config_paths, repeats: int, overrides: dict, drives=DRIVES) -> list[dict]:
    """One row per config and drive (the LAM through its controller, the LAM planned in
    latent space and grounded, the baseline)."""
    rows = []
    for path in config_paths:
        spec = importlib.util.spec_from_file_location("bench_config", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for drive in drives:
            config = module.get_config("plan")  # fresh: planning_latency edits it for the baseline
            config.plan.update({k: v for k, v in overrides.items() if v})
            config.plan.elites = min(config.plan.elites, config.plan.samples)
            p = config.plan
            row = {"config": path, "drive": drive, "samples": p.samples, "iterations": p.iterations,
                   "horizon": p.horizon, "image_size": config.data.image_size,
                   "predictor": f"{config.model.predictor.width}x{config.model.predictor.depth}",
                   "device": jax.devices()[0].device_kind}
            rows.append({**row, **planning_latency(config, drive, module.ACTION_DIM, repeats)})
    return rows


def markdown(rows) -> str:
    lines = ["| config | drive | samples x iterations x horizon | s per replanning step (median) | "
             "rollout steps / s | compile s |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {os.path.basename(r['config'])} ({r['image_size']}px, predictor {r['predictor']}) | "
                     f"{r['drive']} | {r['samples']} x {r['iterations']} x {r['horizon']} | {r['median_s']:.3f} | "
                     f"{r['rollout_steps_per_s']:.0f} | {r['compile_s']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    from absl import app, flags

    CONFIGS = flags.DEFINE_list("configs", ["configs/arm.py", "configs/camera.py"], "config files (plan budgets)")
    REPEATS = flags.DEFINE_integer("repeats", 5, "timed calls after the compiling one")
    SAMPLES = flags.DEFINE_integer("samples", 0, "override plan.samples (0: the config's)")
    ITERATIONS = flags.DEFINE_integer("iterations", 0, "override plan.iterations (0: the config's)")
    JSON = flags.DEFINE_string("json", "", "also write the rows here")

    def main(argv):
        del argv
        rows = run(CONFIGS.value, REPEATS.value, {"samples": SAMPLES.value, "iterations": ITERATIONS.value})
        print(markdown(rows))
        if JSON.value:
            with open(JSON.value, "w") as f:
                json.dump(rows, f, indent=2)

    app.run(main)
