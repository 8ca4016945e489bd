"""Planning (paper §7, Tables S1/S2 right) at CPU scale: DROID-style on the arm simulator
or Metaworld, RECON-style on the camera simulator; random, zero, action-conditioned and
LAM (through its controllers, and planned in latent-action space) side by side.

    python experiments/planning_table.py --config=configs/arm.py --root=/tmp/plan_arm \
        --data=/data/arm --test_data=/data/arm_test
    python experiments/planning_table.py --config=configs/camera.py --root=/tmp/plan_cam \
        --data=/data/cam --test_data=/data/cam_test
    python experiments/planning_table.py --config=configs/metaworld.py --env=metaworld:reach \
        --root=/tmp/plan_mw --data=/data/mw --test_data=/data/mw_test --closed_loop

Missing trajectory folders are generated (--generate episodes of --length frames; the
held-out ones with seed 1). Trains under --root: the action-conditioned baseline
(`actions`), one LAM per --kinds entry, the paper's controller for each and the action-only
MLP controller for the first; then runs the plan job once per LAM. Writes
ROOT/planning_table.{md,json} with the paper's numbers beside ours. --closed_loop adds, per
LAM, the closed-loop protocol in the simulator (plan.protocol=closed_loop: replanning
towards goal frames, Metaworld's success), a second table.
"""
from __future__ import annotations

import json
import os

import numpy as np
from absl import app, flags, logging

import common  # noqa: F401  (the shared flags; sets up the path)
from common import DATA, ROOT, base_config, command_line, run_name, table, trained, write_report
from lawm_jax.data.trajectories import generate_trajectories
from lawm_jax.planning.run import plan
from lawm_jax.train.controller import train_controller

TEST_DATA = flags.DEFINE_string("test_data", "", "held-out trajectories (generated with seed 1 if missing)")
KINDS = flags.DEFINE_list("kinds", ["noisy"], "LAMs to plan with: bottleneck kinds at the config's coefficient, "
                          "or KIND:COEF (noisy beta, sparse l1, vq codebook size), e.g. noisy:0.01")
CONTROLLER_STEPS = flags.DEFINE_integer("controller_steps", 0, "controller steps (0 = the config's)")
EPISODES = flags.DEFINE_integer("plan_episodes", 0, "planning episodes (0 = the config's, 64)")
GENERATE = flags.DEFINE_integer("generate", 300, "training episodes to generate if --data is missing")
LENGTH = flags.DEFINE_integer("length", 20, "frames per generated episode")
ENV = flags.DEFINE_string("env", "", "the simulator ('' = the protocol's: arm for droid, camera for recon), e.g. "
                          "metaworld:reach")
POLICY = flags.DEFINE_enum("policy", "mixed", ["random", "scripted", "mixed"],
                           "Metaworld episodes: random smooth actions, the task's scripted policy, or half each")
CLOSED_LOOP = flags.DEFINE_bool("closed_loop", False, "also plan closed loop in the simulator (plan.protocol="
                                "closed_loop), a second table")
REPORT_ONLY = flags.DEFINE_bool("report_only", False, "print the table of the runs in ROOT/planning_table.json")

# Paper Tables S1 / S2 (right): V-JEPA 2 / NWM scale, for orientation only.
PAPER = {"droid": "V-JEPA 2-AC Δxyz 0.15 m; noisy LAM low/mid/high 0.49/0.11/0.10 m (Table S1)",
         "recon": "NWM ATE 1.13 / RPE 0.35; noisy LAM low/mid/high RPE 0.55/0.41/0.40 (Table S2)"}


def ensure_data(path: str, env: str, episodes: int, size: int, seed: int) -> str:
    if not os.path.exists(os.path.join(path, "trajectories.json")):
        logging.info("generating %d %s episodes in %s", episodes, env, path)
        generate_trajectories(env, path, episodes, LENGTH.value, size=size, seed=seed, policy=POLICY.value)
    return path


def parse(entry: str):
    """"noisy" -> ("noisy", None); "noisy:0.01" -> ("noisy", 0.01)."""
    kind, _, coef = entry.partition(":")
    return kind, (float(coef) if coef else None)


def controller(kind: str, coef, lam: str, arg: str) -> str:
    workdir = os.path.join(ROOT.value, f"{arg}_{run_name(kind, coef)}")
    c = base_config(kind, arg)
    c.controller.world_model = lam
    if CONTROLLER_STEPS.value:
        c.train.steps = CONTROLLER_STEPS.value
    c.train.log_every = max(c.train.steps // 20, 1)
    c.train.ckpt_every = c.train.steps
    train_controller(c, workdir)
    return workdir


def planned(c, name: str) -> dict:
    """The plan job's results in ROOT/name: planned before (same runs) they are reused, as
    the trained models are."""
    done = os.path.join(ROOT.value, name, "plan", "results.json")
    if os.path.exists(done):
        with open(done) as f:
            return json.load(f)
    return plan(c, os.path.join(ROOT.value, name))


def report(results: dict, env: str, protocol: str) -> str:
    """The Markdown table of every LAM's plan job (random, zero and the baseline once):
    mean ± std over episodes of each metric, and of the headline metric the mean paired
    difference to `random` on the same episodes, ± its standard error."""
    first = next(iter(results.values()))
    headline = first["headline"]
    metric_names = [k for k in first["methods"]["random"] if not k.endswith("_std")
                    and k not in ("per_episode", "seconds_per_plan")]
    random = np.asarray(first["methods"]["random"]["per_episode"][headline])
    rows = []
    for i, (label, summary) in enumerate(results.items()):
        for method, r in summary["methods"].items():
            if i and method in ("random", "zero", "action_conditioned"):
                continue  # the same episodes and keys every time: shown once
            name = {"lam": f"LAM ({label}) + controller",
                    "lam_latent": f"LAM ({label}), CEM in latent space",
                    "lam_mlp": f"LAM ({label}) + action-only MLP"}.get(method, method)
            diff = np.asarray(r["per_episode"][headline]) - random
            rows.append([name] + [f"{r[m]:.4f} ± {r[m + '_std']:.4f}" for m in metric_names]
                        + [f"{diff.mean():+.4f} ± {diff.std() / np.sqrt(len(diff)):.4f}",
                           f"{r['seconds_per_plan']:.2f}"])
    header = ["method"] + metric_names + [f"{headline} − random (paired, ± s.e.)", "s / plan"]
    success = "; success: the share Metaworld counts as solved, higher is better" if "success" in metric_names else ""
    return (f"{env} simulator, {protocol} protocol, {first['episodes']} held-out episodes (mean ± std over "
            f"episodes; distances: lower is better, negative differences beat random actions{success})."
            "\n\n" + table(header, rows))


def main(argv):
    del argv
    probe = base_config("noisy", "plan")
    protocol = probe.plan.protocol
    env = ENV.value or {"droid": "arm", "recon": "camera"}[protocol]
    saved = os.path.join(ROOT.value, "planning_table.json")
    loops = {}
    if REPORT_ONLY.value:
        with open(saved) as f:
            results = json.load(f)
        loops = results.pop("closed_loop", {})
    else:
        size = probe.data.image_size
        ensure_data(DATA.value, env, GENERATE.value, size, 0)
        test = ensure_data(TEST_DATA.value, env, 64, size, 1)
        baseline = trained("actions")
        results = {}
        for i, entry in enumerate(KINDS.value):
            kind, coef = parse(entry)
            lam = trained(kind, coef)
            label = run_name(kind, coef)
            c = base_config(kind, "plan")
            c.plan.path = test
            c.plan.controller = controller(kind, coef, lam, "controller")
            c.plan.mlp_controller = controller(kind, coef, lam, "controller_mlp") if i == 0 else ""
            c.plan.baseline = baseline
            if EPISODES.value:
                c.plan.episodes = EPISODES.value
            results[label] = planned(c, f"plan_{label}")
            if CLOSED_LOOP.value:
                c.plan.update(protocol="closed_loop", env=env)
                loops[label] = planned(c, f"loop_{label}")
    body = report(results, env, protocol) + f"\n\nPaper, for orientation: {PAPER[protocol]}.\n"
    if loops:
        body += "\nClosed loop in the simulator:\n\n" + report(loops, env, "closed_loop") + "\n"
    if REPORT_ONLY.value:  # the saved runs' command stays in ROOT/planning_table.md
        print(body)
        return
    body += f"\nCommand: `{command_line()}`\n"
    path = write_report("planning_table", f"Planning, {protocol} protocol ({env})", body,
                        {**results, "closed_loop": loops} if loops else results)
    print(open(path).read())


if __name__ == "__main__":
    app.run(main)
