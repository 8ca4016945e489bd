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
--test_episodes held-out ones with seed 1). Trains under --root, once per --seeds entry: the
action-conditioned baseline (`actions`), one LAM per --kinds entry, the paper's controller
for each and, for the training seed equal to --seed (every seed with --every_seed), the
action-only MLP controller of the first LAM; then runs the plan job once per LAM and seed, on the same
held-out episodes with the same planning keys (--seed). Writes ROOT/planning_table.{md,json}:
each method over seeds, its paired differences to random and to no movement, the paper's
numbers beside ours, and the issue's claims as measured (never tuned). --closed_loop adds,
per LAM and seed, the closed-loop protocol in the simulator (plan.protocol=closed_loop:
replanning towards goal frames, Metaworld's success; --loop_episodes of them), a second
table. --decoder_steps=N trains a pixel decoder of the shared encoder (ROOT/decoder): the
controllers' table then has the paper's LPIPS columns (rollouts decoded against the real
frames), and the closed loop's pictures the frames each plan predicted.
"""
from __future__ import annotations

import json
import os

import numpy as np
from absl import app, flags, logging

import common  # noqa: F401  (the shared flags; sets up the path)
from common import (DATA, FIELD, ROOT, SEED, base_config, command_line, decoder, rollout_pixels, run_name, seeds, table,
                    trained, write_report)
from lawm_jax.data.trajectories import generate_trajectories
from lawm_jax.api import load_controller
from lawm_jax.planning.controller_rollouts import METRICS, PIXEL_METRICS, controller_rollouts
from lawm_jax.planning.run import plan, truth_ranks
from lawm_jax.train.controller import train_controller

TEST_DATA = flags.DEFINE_string("test_data", "", "held-out trajectories (generated with seed 1 if missing)")
KINDS = flags.DEFINE_list("kinds", ["noisy"], "LAMs to plan with: bottleneck kinds at the config's coefficient, "
                          "or KIND:COEF (noisy beta, sparse l1, vq codebook size), e.g. noisy:0.01")
CONTROLLER_STEPS = flags.DEFINE_integer("controller_steps", 0, "controller steps (0 = the config's)")
EPISODES = flags.DEFINE_integer("plan_episodes", 0, "planning episodes (0 = the config's, 64)")
GENERATE = flags.DEFINE_integer("generate", 300, "training episodes to generate if --data is missing")
TEST_EPISODES = flags.DEFINE_integer("test_episodes", 64, "held-out episodes to generate if --test_data is missing")
LENGTH = flags.DEFINE_integer("length", 20, "frames per generated episode")
ENV = flags.DEFINE_string("env", "", "the simulator ('' = the protocol's: arm for droid, camera for recon), e.g. "
                          "metaworld:reach")
POLICY = flags.DEFINE_enum("policy", "mixed", ["random", "scripted", "mixed"],
                           "Metaworld episodes: random smooth actions, the task's scripted policy, or half each")
CLOSED_LOOP = flags.DEFINE_bool("closed_loop", False, "also plan closed loop in the simulator (plan.protocol="
                                "closed_loop), a second table")
LOOP_EPISODES = flags.DEFINE_integer("loop_episodes", 0, "closed-loop episodes (0 = as --plan_episodes)")
EVERY_SEED = flags.DEFINE_bool("every_seed", False, "the action-only controller and latent-space planning on every "
                               "training seed (default: on the one equal to --seed only)")
MLP_CONTROLLER = flags.DEFINE_bool("mlp_controller", True, "train and plan the action-only MLP controller of the "
                                   "first LAM")
REPORT_ONLY = flags.DEFINE_bool("report_only", False, "print the table of the runs in ROOT/planning_table.json")

# Paper Tables S1 / S2 (right): V-JEPA 2 / NWM scale, for orientation only.
PAPER = {"droid": "V-JEPA 2-AC Δxyz 0.15 m; noisy LAM low/mid/high 0.49/0.11/0.10 m (Table S1)",
         "recon": "NWM ATE 1.13 / RPE 0.35; noisy LAM low/mid/high RPE 0.55/0.41/0.40 (Table S2)"}
PAPER_CONTROLLER = ("rollout LPIPS, controller-driven over IDM-driven, noisy LAM low/mid/high: DROID ×1.00/1.10/1.27, "
                    "RECON ×0.99/1.23/1.29 (Tables S1/S2 left); 'somewhat more timid actions'")


def ensure_data(path: str, env: str, episodes: int, size: int, seed: int) -> str:
    if not os.path.exists(os.path.join(path, "trajectories.json")):
        logging.info("generating %d %s episodes in %s", episodes, env, path)
        generate_trajectories(env, path, episodes, LENGTH.value, size=size, seed=seed, policy=POLICY.value)
    return path


def lam_coefficient(kind: str):
    """The config's capacity coefficient of bottleneck `kind` (sparse l1, noisy beta, VQ codebook size)."""
    return base_config(kind).model.bottleneck[FIELD[kind]]


def parse(entry: str):
    """"noisy" -> ("noisy", None); "noisy:0.01" -> ("noisy", 0.01)."""
    kind, _, coef = entry.partition(":")
    return kind, (float(coef) if coef else None)


def controller(kind: str, coef, lam: str, arg: str, seed: int) -> str:
    workdir = os.path.join(ROOT.value, f"{arg}_{run_name(kind, coef, seed)}")
    c = base_config(kind, arg)
    c.seed = seed
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


NAMES = {"lam": "LAM ({}) + controller", "lam_latent": "LAM ({}), CEM in latent space",
         "lam_mlp": "LAM ({}) + action-only MLP"}


def per_seed(results: dict, headline: str) -> dict:
    """{row name: {seed: per-episode values of the headline metric}}: random and zero once
    (every seed plans them on the same episodes with the same keys), the baseline once per
    seed, each LAM method per seed."""
    rows = {}
    for summary in results.values():
        label, seed = summary.get("lam", "lam"), summary.get("seed", 0)
        for method, r in summary["methods"].items():
            name = NAMES[method].format(label) if method in NAMES else method
            rows.setdefault(name, {}).setdefault(0 if method in ("random", "zero") else seed,
                                                 {k: np.asarray(v) for k, v in r["per_episode"].items()})
    return rows


def paired(values: dict, reference: np.ndarray) -> tuple[float, float]:
    """Mean and standard error over episodes of (the seeds' mean value - reference)."""
    diff = np.mean([v for v in values.values()], axis=0) - reference
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0


def controllers_checked(c, data: str, test: str) -> dict:
    """Each controller of the plan config `c` (Tables S1/S2 left) on held-out and training
    windows: {controller: {split: controller_rollouts(...)}}; in LPIPS too with
    --decoder_steps (the shared encoder's pixel decoder)."""
    pixels = rollout_pixels()
    out = {}
    for name, workdir in (("attention", c.plan.controller), ("action-only MLP", c.plan.mlp_controller)):
        if workdir:
            ctrl = load_controller(workdir)
            out[name] = {split: controller_rollouts(ctrl, path, c.plan.episodes, c.plan.horizon, c.seed, **pixels)
                         for split, path in (("held-out", test), ("training", data))}
    return out


def controller_report(checked: dict) -> str:
    """The controllers' table: per LAM, controller and split, each metric's mean over seeds
    (± std over seeds with several, over episodes with one)."""
    groups = {}
    for label, by_controller in checked.items():
        for name, splits in by_controller["controllers"].items():
            for split, r in splits.items():
                groups.setdefault((by_controller["lam"], name, split), []).append(r)
    pixels = all(k in r for runs in groups.values() for r in runs for k in PIXEL_METRICS)
    metrics = list(METRICS) + (list(PIXEL_METRICS) if pixels else [])
    unit = "lpips" if pixels else "l1"  # the paper's ratio is in LPIPS
    rows = []
    for (lam, name, split), runs in groups.items():
        cells = []
        for k in metrics:
            values = [r[k] for r in runs]
            spread = np.std(values) if len(runs) > 1 else runs[0][f"{k}_std"]
            d = 4 if "lpips" in k else 3  # LPIPS of 32 px frames is small
            cells.append(f"{np.mean(values):.{d}f} ± {spread:.{d}f}")
        ratio = np.mean([r[f"controller_rollout_{unit}"] / r[f"idm_rollout_{unit}"] for r in runs])
        rows.append([f"LAM ({lam})", name, split, str(len(runs))] + cells + [f"{ratio:.2f}"])
    first = next(iter(checked.values()))["controllers"]
    episodes = next(iter(next(iter(first.values())).values()))
    return (f"Controllers (paper Tables S1/S2 left), on {episodes['episodes']} windows of {episodes['horizon']} "
            "transitions per split: the controller's latents against the IDM's for the same transitions "
            "(relative squared error; gain, their projection on the IDM's: below 1 timid), and H-step "
            "rollouts driven by each against the true states (mean absolute error in representation space; "
            "copy: predicting no change; movement ratio: how far the controller's rollout moves from the "
            "start, over the IDM's)"
            + ("; with a pixel decoder, the rollouts decoded and scored in LPIPS against the real frames, and the "
               "decoded true states (the decoder's own error)" if pixels else "")
            + ". Mean ± std over seeds (over episodes for one seed).\n\n"
            + table(["LAM", "controller", "windows from", "seeds"] + metrics + [f"controller ÷ IDM rollout ({unit})"],
                    rows))


def truth_report(results: dict) -> str:
    """How well each model's cost ranks the true actions (planning.run.truth_ranks), per
    method over its seeds (± std over seeds with several, over episodes with one)."""
    groups = {}
    for r in results.values():
        for method, t in r["truth_rank"].items():
            name = NAMES[method].format(r["lam"]) if method in NAMES else method
            groups.setdefault(name, []).append(t)
    rows = []
    for name, runs in groups.items():
        values = [t["truth_rank"] for t in runs]
        spread = np.std(values) if len(runs) > 1 else runs[0]["truth_rank_std"]
        rows.append([name, str(len(runs)), f"{np.mean(values):.3f} ± {spread:.3f}"])
    draws = next(iter(next(iter(results.values()))["truth_rank"].values()))["draws"]
    return ("Does the model know the right plan? Per held-out episode, the share of "
            f"{draws} random plans (the random reference's) that the model's planning cost scores below the "
            "episode's true actions (0: the truth beats them all; 0.5: the cost cannot tell; "
            "lawm_jax/planning/run.py truth_ranks). Mean ± std over seeds (over episodes for one seed).\n\n"
            + table(["model", "seeds", "random plans scored below the truth"], rows))


def report(results: dict, env: str, protocol: str) -> tuple[str, dict]:
    """The Markdown table of the plan jobs (random and zero once, the baseline and each LAM
    over their seeds), and its numbers. A metric's cell: mean ± std over episodes (one seed)
    or over the seeds' means (several); paired differences of the headline metric to random
    and to no movement: per episode, the seeds' mean minus the reference on the same
    episode, then mean ± standard error over episodes; the seeds' own paired means beside."""
    first = next(iter(results.values()))
    headline = first["headline"]
    metric_names = [k for k in first["methods"]["random"] if not k.endswith("_std")
                    and k not in ("per_episode", "seconds_per_plan")]
    rows = per_seed(results, headline)
    random, zero = rows["random"][0][headline], rows["zero"][0][headline]
    baseline = np.mean([v[headline].mean() for v in rows.get("action_conditioned", {0: {headline: np.nan}}).values()])
    seconds = {}
    for summary in results.values():
        for method, r in summary["methods"].items():
            name = NAMES[method].format(summary.get("lam", "lam")) if method in NAMES else method
            seconds.setdefault(name, r["seconds_per_plan"])
    numbers, lines = {}, []
    for name, by_seed in rows.items():
        means = {k: [v[k].mean() for v in by_seed.values()] for k in metric_names}
        spread = {k: np.std(means[k]) if len(by_seed) > 1 else next(iter(by_seed.values()))[k].std()
                  for k in metric_names}
        head = {s: v[headline] for s, v in by_seed.items()}
        vs_random, vs_zero = paired(head, random), paired(head, zero)
        seed_diffs = [float((v - random).mean()) for v in head.values()]
        numbers[name] = {"seeds": sorted(by_seed), **{k: float(np.mean(means[k])) for k in metric_names},
                         **{f"{k}_spread": float(spread[k]) for k in metric_names},
                         "vs_random": vs_random, "vs_zero": vs_zero, "seeds_vs_random": seed_diffs,
                         "over_baseline": float(np.mean(means[headline]) / baseline)}
        controller_row = NAMES["lam"].format(name[name.find("(") + 1:name.find(")")])
        if name != controller_row and controller_row in rows:  # the same seeds' controller planning
            numbers[name]["vs_controller"] = paired(head, np.mean([rows[controller_row][s][headline]
                                                                    for s in by_seed], axis=0))
        numbers[name]["per_seed"] = head  # for the capacity pairs below; dropped before saving
        lines.append([name, str(len(by_seed))] + [f"{np.mean(means[k]):.4f} ± {spread[k]:.4f}" for k in metric_names]
                     + [f"{d:+.4f} ± {e:.4f}" for d, e in (vs_random, vs_zero)]
                     + [" / ".join(f"{d:+.3f}" for d in seed_diffs), f"{numbers[name]['over_baseline']:.2f}",
                        f"{seconds[name]:.2f}"])
    capacity_pairs(results, numbers)
    header = (["method", "seeds"] + metric_names + [f"{headline} − random (paired, ± s.e.)",
              f"{headline} − zero (paired, ± s.e.)", "each seed − random", "÷ baseline", "s / plan"])
    success = "; success: the share Metaworld counts as solved, higher is better" if "success" in metric_names else ""
    text = (f"{env} simulator, {protocol} protocol, {first['episodes']} held-out episodes (mean ± std over episodes "
            f"for one seed, over the seeds' means for several; distances: lower is better, negative differences "
            f"beat the reference{success})." "\n\n" + table(header, lines))
    return text, numbers


def capacity_pairs(results: dict, numbers: dict) -> None:
    """For every two LAMs of one bottleneck kind, the higher-capacity one's controller
    planning minus the lower's, paired over their common seeds' episodes: in
    numbers["capacity"] as (higher, lower, mean, s.e.). Higher capacity: the smaller sparse
    or noisy coefficient, the larger VQ codebook."""
    lams = {NAMES["lam"].format(r["lam"]): (r["kind"], r["coefficient"]) for r in results.values() if "kind" in r}
    pairs = []
    for a, (kind_a, coef_a) in lams.items():
        for b, (kind_b, coef_b) in lams.items():
            higher = coef_a > coef_b if kind_a == "vq" else coef_a < coef_b
            both = sorted(set(numbers[a]["per_seed"]) & set(numbers[b]["per_seed"]))
            if kind_a == kind_b and higher and both:
                lower = np.mean([numbers[b]["per_seed"][s] for s in both], axis=0)
                pairs.append((a, b, *paired({s: numbers[a]["per_seed"][s] for s in both}, lower)))
    for n in numbers.values():
        n.pop("per_seed")
    numbers["capacity"] = pairs


def findings(numbers: dict, headline: str) -> list[list[str]]:
    """The issue's claims, measured: each LAM + controller against random and no movement
    (>= 3 standard errors, paired), its ratio to the baseline (<= 1.5x), and the latent-space
    and action-only planning against the controller's on the same episodes."""
    rows = []
    for name, n in numbers.items():
        if not name.endswith("+ controller"):
            continue
        for ref in ("random", "zero"):
            d, e = n[f"vs_{ref}"]
            rows.append([f"{name} beats {ref} by >= 3 s.e. ({headline}, paired)", f"{d:+.4f} ± {e:.4f} "
                         f"({d / e if e else float('inf'):+.1f} s.e.)", "yes" if d < 0 and -d >= 3 * e else "no"])
        rows.append([f"{name} within 1.5x of the baseline's {headline}", f"{n['over_baseline']:.2f}x",
                     "yes" if n["over_baseline"] <= 1.5 else "no"])
    for higher, lower, d, e in numbers["capacity"]:
        rows.append([f"higher capacity plans better: {higher} against {lower} (>= 2 s.e., {headline}, paired)",
                     f"{d:+.4f} ± {e:.4f}", "yes" if d < 0 and -d >= 2 * e else "no"])
    for name, n in numbers.items():
        if name == "capacity":
            continue
        if "vs_controller" in n:
            d, e = n["vs_controller"]
            rows.append([f"{name} against the controller's planning, same episodes and seeds ({headline}, paired)",
                         f"{d:+.4f} ± {e:.4f}", "lower" if d < 0 else "not lower"])
    return rows


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
        test = ensure_data(TEST_DATA.value, env, TEST_EPISODES.value, size, 1)
        results = {}
        for s in seeds():
            baseline = trained("actions", seed=s)
            for i, entry in enumerate(KINDS.value):
                kind, coef = parse(entry)
                lam = trained(kind, coef, s)
                label = run_name(kind, coef, s)
                extras = EVERY_SEED.value or s == SEED.value  # the comparisons on the same episodes
                c = base_config(kind, "plan")  # c.seed (--seed): the episodes and the planners' keys
                c.plan.path = test
                c.plan.controller = controller(kind, coef, lam, "controller", s)
                c.plan.mlp_controller = (controller(kind, coef, lam, "controller_mlp", s)
                                         if i == 0 and extras and MLP_CONTROLLER.value else "")
                c.plan.latent_space = c.plan.latent_space and extras
                c.plan.baseline = baseline
                c.plan.decoder = decoder()  # with --decoder_steps: the closed loop draws the planned frames
                if EPISODES.value:
                    c.plan.episodes = EPISODES.value
                tag = {"lam": run_name(kind, coef), "seed": s, "kind": kind,
                       "coefficient": coef if coef is not None else float(lam_coefficient(kind))}
                results[label] = {**planned(c, f"plan_{label}"), **tag}
                results[label]["controllers"] = controllers_checked(c, DATA.value, test)
                results[label]["truth_rank"] = truth_ranks(c)
                if CLOSED_LOOP.value:
                    c.plan.update(protocol="closed_loop", env=env)
                    if LOOP_EPISODES.value:
                        c.plan.episodes = LOOP_EPISODES.value
                    loops[label] = {**planned(c, f"loop_{label}"), **tag}
    text, numbers = report(results, env, protocol)
    body = text + f"\n\nPaper, for orientation: {PAPER[protocol]}.\n"
    if all("controllers" in r for r in results.values()):
        body += "\n" + controller_report(results) + f"\n\nPaper, for orientation: {PAPER_CONTROLLER}.\n"
    if all("truth_rank" in r for r in results.values()):
        body += "\n" + truth_report(results) + "\n"
    found = findings(numbers, next(iter(results.values()))["headline"])
    if loops:
        loop_text, loop_numbers = report(loops, env, "closed_loop")
        body += "\nClosed loop in the simulator:\n\n" + loop_text + "\n"
        found += findings(loop_numbers, next(iter(loops.values()))["headline"])
    body += "\nThe claims (issue 22), measured:\n\n" + table(["claim", "measured", "holds"], found) + "\n"
    if REPORT_ONLY.value:  # the saved runs' command stays in ROOT/planning_table.md
        print(body)
        return
    body += f"\nCommand: `{command_line()}`\n"
    path = write_report("planning_table", f"Planning, {protocol} protocol ({env})", body,
                        {**results, "closed_loop": loops} if loops else results)
    print(open(path).read())


if __name__ == "__main__":
    app.run(main)
