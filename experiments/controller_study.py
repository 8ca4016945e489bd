"""What limits the controller (paper §7, Tables S1/S2 left; issue 22 item 3): for one
trained LAM, controllers that differ from the recipe's in one thing at a time (training
steps, width, depth, kind), each against the IDM on held-out and on training windows.
A gap between the two splits says data; no gap but a high error, capacity or steps.

    python experiments/controller_study.py --config=configs/metaworld.py --root=/tmp/plan_mw \
        --data=/data/mw --test_data=/data/mw_test --lam=noisy --variants=steps=9000,width=256,depth=4

--root is a planning_table.py root (its LAM --lam is reused, or trained); the recipe's
controller is the first row (ROOT/controller_<lam>, as planning_table.py trains it);
each variant trains under ROOT/controller_study/<variant>. Writes
ROOT/controller_study.{md,json}. --closed_loop=recipe,VARIANT also plans through those
controllers in the simulator (--env), on the same episodes, and compares them paired.
A variant data=FOLDER trains the controller on another trajectory folder (e.g. more
episodes of the same simulator; the LAM stays). --decoder_steps=N adds the paper's LPIPS
columns (a pixel decoder of the shared encoder, ROOT/decoder).
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
from absl import app, flags

import common  # noqa: F401  (the shared flags; sets up the path)
from common import DATA, ROOT, SEED, base_config, command_line, decoder, rollout_pixels, table, trained, write_report
from lawm_jax.api import load_controller
from lawm_jax.planning.controller_rollouts import PIXEL_METRICS, controller_rollouts
from lawm_jax.planning.run import plan
from lawm_jax.train.controller import train_controller

TEST_DATA = flags.DEFINE_string("test_data", "", "held-out trajectories")
LAM = flags.DEFINE_string("lam", "noisy", "the LAM: a bottleneck kind at the config's coefficient (its run under --root)")
VARIANTS = flags.DEFINE_list("variants", ["steps=9000", "width=256", "depth=4"],
                             "KEY=VALUE, one change each: steps (training steps), data (another trajectory "
                             "folder to train on, e.g. more episodes) or a config.controller field")
EPISODES = flags.DEFINE_integer("episodes", 64, "windows per split")
ENV = flags.DEFINE_string("env", "", "with --closed_loop: the simulator to plan in, e.g. metaworld:reach")
CLOSED_LOOP = flags.DEFINE_list("closed_loop", [], "variants (and `recipe`) to also plan with in the closed loop "
                                "(plan.protocol=closed_loop in --env; --set=plan.* sets its episodes and frames): "
                                "random, no movement and the LAM through that controller")
COLUMNS = ("rel_error", "gain", "norm_ratio", "idm_rollout_l1", "controller_rollout_l1", "movement_ratio")


def configured(variant: str):
    """The recipe's controller config with one change (variant "" = none)."""
    c = base_config(LAM.value, "controller")
    c.controller.world_model = os.path.join(ROOT.value, LAM.value)
    if variant:
        key, _, value = variant.partition("=")
        if key == "steps":
            c.train.steps = int(value)
        elif key == "data":
            if not os.path.exists(os.path.join(value, "trajectories.json")):
                raise app.UsageError(f"--variants: {variant!r}: {value} is not a trajectory folder "
                                     "(tools/make_trajectories.py writes one)")
            c.data.path = value
        elif key in c.controller:
            c.controller[key] = type(c.controller[key])(value)
        else:
            raise app.UsageError(f"--variants: {variant!r}: use steps=N, data=FOLDER or a config.controller field "
                                 f"({', '.join(k for k in c.controller if k != 'world_model')})")
    c.train.log_every = max(c.train.steps // 20, 1)
    c.train.ckpt_every = c.train.steps
    return c


def slug(variant: str) -> str:
    """A variant's folder name: steps=1000 -> steps_1000, data=/d/mw1000 -> data_mw1000."""
    key, sep, value = variant.partition("=")
    return f"{key}_{os.path.basename(os.path.normpath(value))}" if sep else variant


def closed_loop(name: str, workdir: str) -> dict:
    """The closed loop through one controller (ROOT/controller_study/loop_<name>), reused
    when it finished before; the recipe's is planning_table.py's ROOT/loop_<lam> if there."""
    c = base_config(LAM.value, "plan")
    c.plan.update(protocol="closed_loop", env=ENV.value, controller=workdir, mlp_controller="", baseline="",
                  latent_space=False, decoder=decoder())  # with --decoder_steps: the planned frames drawn
    out = os.path.join(ROOT.value, "controller_study", f"loop_{slug(name)}")
    for done in ([os.path.join(ROOT.value, f"loop_{LAM.value}")] if name == "recipe" else []) + [out]:
        if os.path.exists(os.path.join(done, "plan", "results.json")):
            with open(os.path.join(done, "plan", "results.json")) as f:
                return json.load(f)
    return plan(c, out)


def cell(r: dict, key: str) -> str:
    d = 4 if "lpips" in key else 3  # LPIPS of 32 px frames is small
    return f"{r[key]:.{d}f} ± {r[key + '_std']:.{d}f}"


def success(method: dict) -> str:
    return f"{method['success']:.2f}" if "success" in method else "-"  # Metaworld's; the arm has none


def loop_table(loops: dict) -> str:
    """Final distance and success per controller, and each one's paired difference to the
    recipe's on the same episodes."""
    keys = ("episodes", "frames", "replan_every", "goal_frames", "horizon", "samples", "iterations")
    for name, r in loops.items():
        differ = [k for k in keys if r["plan"][k] != loops["recipe"]["plan"][k]]
        if differ:
            raise app.UsageError(f"the closed loop of {name} differs from the recipe's in plan.{differ[0]} "
                                 f"({r['plan'][differ[0]]} vs {loops['recipe']['plan'][differ[0]]}): give the "
                                 "recipe's --set=plan.* (those planning_table.py ran it with)")
    recipe = np.asarray(loops["recipe"]["methods"]["lam"]["per_episode"]["final_distance"])
    rows = []
    for name, r in loops.items():
        lam = r["methods"]["lam"]
        d = np.asarray(lam["per_episode"]["final_distance"]) - recipe
        rows.append([name, f"{lam['final_distance']:.4f} ± {lam['final_distance_std']:.4f}", success(lam),
                     f"{d.mean():+.4f} ± {d.std(ddof=1) / np.sqrt(len(d)):.4f}" if name != "recipe" else "0"])
    first = next(iter(loops.values()))["methods"]
    rows += [[m, f"{first[m]['final_distance']:.4f} ± {first[m]['final_distance_std']:.4f}",
              success(first[m]), ""] for m in ("random", "zero")]
    return (f"Closed loop in {ENV.value}, {next(iter(loops.values()))['episodes']} episodes (the same starts, goals "
            "and keys for every controller): final end-effector distance to the goal's (m, mean ± std over "
            "episodes), Metaworld's success, and the paired difference to the recipe's controller (± s.e.).\n\n"
            + table(["controller", "final_distance", "success", "− recipe (paired, ± s.e.)"], rows))


def main(argv):
    del argv
    for v in VARIANTS.value:
        configured(v)  # a bad variant is named before anything trains
    unknown = set(CLOSED_LOOP.value) - {"recipe", *VARIANTS.value}
    if unknown or (CLOSED_LOOP.value and not ENV.value):
        raise app.UsageError(f"--closed_loop={','.join(CLOSED_LOOP.value)}: name `recipe` or --variants entries "
                             f"({sorted(unknown)} are neither), and the simulator with --env")
    trained(LAM.value)
    horizon = base_config(LAM.value, "plan").plan.horizon
    pixels = rollout_pixels()  # with --decoder_steps: the paper's LPIPS columns
    columns = COLUMNS + (PIXEL_METRICS if pixels else ())
    unit = "lpips" if pixels else "l1"
    results, rows, loops = {}, [], {}
    for variant in [""] + VARIANTS.value:
        workdir = os.path.join(ROOT.value, f"controller_{LAM.value}" if not variant else
                               os.path.join("controller_study", slug(variant)))
        c = configured(variant)
        t0 = time.time()
        train_controller(c, workdir)  # resumes; returns at once when finished
        ctrl = load_controller(workdir)
        name = variant or "recipe"
        results[name] = {"workdir": workdir, "steps": c.train.steps, "controller": dict(c.controller),
                         "seconds": time.time() - t0}
        for split, path in (("held-out", TEST_DATA.value), ("training", DATA.value)):
            r = controller_rollouts(ctrl, path, EPISODES.value, horizon, SEED.value, **pixels)
            results[name][split] = r
            rows.append([name, split] + [cell(r, k) for k in columns]
                        + [f"{r[f'controller_rollout_{unit}'] / r[f'idm_rollout_{unit}']:.2f}"])
        if name in CLOSED_LOOP.value:
            loops[name] = closed_loop(name, workdir)
            results[name]["closed_loop"] = {k: v for k, v in loops[name]["methods"]["lam"].items()}
    if loops and "recipe" not in loops:
        loops = {"recipe": closed_loop("recipe", os.path.join(ROOT.value, f"controller_{LAM.value}")), **loops}
    body = (f"LAM {LAM.value} under {ROOT.value}; {EPISODES.value} windows of {horizon} transitions per split "
            "(mean ± std over windows). rel_error: the controller's latents against the IDM's (1: no better than "
            "zero); gain: their projection on the IDM's (below 1: timid); rollouts: H steps driven by each, mean "
            "absolute error against the true states; movement ratio: how far the controller's rollout moves "
            "from the start, over the IDM's"
            + ("; LPIPS: the rollouts decoded (--decoder_steps) against the real frames, and the decoded true "
               "states" if pixels else "") + " (lawm_jax/planning/controller_rollouts.py).\n\n"
            + table(["controller", "windows from"] + list(columns) + [f"controller ÷ IDM rollout ({unit})"], rows)
            + ("\n\n" + loop_table(loops) if loops else "") + f"\n\nCommand: `{command_line()}`\n")
    path = write_report("controller_study", f"What limits the controller ({LAM.value})", body, results)
    print(open(path).read())


if __name__ == "__main__":
    app.run(main)
