"""What limits the controller (paper §7, Tables S1/S2 left; issue 22 item 3): for one
trained LAM, controllers that differ from the recipe's in one thing at a time (training
steps, width, depth, kind), each against the IDM on held-out and on training windows.
A gap between the two splits says data; no gap but a high error, capacity or steps.

    python experiments/controller_study.py --config=configs/metaworld.py --root=/tmp/plan_mw \
        --data=/data/mw --test_data=/data/mw_test --lam=noisy --variants=steps=9000,width=256,depth=4

--root is a planning_table.py root (its LAM --lam is reused, or trained); the recipe's
controller is the first row (ROOT/controller_<lam>, as planning_table.py trains it);
each variant trains under ROOT/controller_study/<variant>. Writes
ROOT/controller_study.{md,json}.
"""
from __future__ import annotations

import os
import time

from absl import app, flags

import common  # noqa: F401  (the shared flags; sets up the path)
from common import DATA, ROOT, SEED, base_config, command_line, table, trained, write_report
from lawm_jax.api import load_controller
from lawm_jax.planning.controller_rollouts import controller_rollouts
from lawm_jax.train.controller import train_controller

TEST_DATA = flags.DEFINE_string("test_data", "", "held-out trajectories")
LAM = flags.DEFINE_string("lam", "noisy", "the LAM: a bottleneck kind at the config's coefficient (its run under --root)")
VARIANTS = flags.DEFINE_list("variants", ["steps=9000", "width=256", "depth=4"],
                             "KEY=VALUE, one change each: steps (training steps) or a config.controller field")
EPISODES = flags.DEFINE_integer("episodes", 64, "windows per split")
COLUMNS = ("rel_error", "gain", "norm_ratio", "idm_rollout_l1", "controller_rollout_l1", "movement_ratio")


def configured(variant: str):
    """The recipe's controller config with one change (variant "" = none)."""
    c = base_config(LAM.value, "controller")
    c.controller.world_model = os.path.join(ROOT.value, LAM.value)
    if variant:
        key, _, value = variant.partition("=")
        if key == "steps":
            c.train.steps = int(value)
        elif key in c.controller:
            c.controller[key] = type(c.controller[key])(value)
        else:
            raise app.UsageError(f"--variants: {variant!r}: use steps=N or a config.controller field "
                                 f"({', '.join(k for k in c.controller if k != 'world_model')})")
    c.train.log_every = max(c.train.steps // 20, 1)
    c.train.ckpt_every = c.train.steps
    return c


def main(argv):
    del argv
    for v in VARIANTS.value:
        configured(v)  # a bad variant is named before anything trains
    trained(LAM.value)
    horizon = base_config(LAM.value, "plan").plan.horizon
    results, rows = {}, []
    for variant in [""] + VARIANTS.value:
        workdir = os.path.join(ROOT.value, f"controller_{LAM.value}" if not variant else
                               os.path.join("controller_study", variant.replace("=", "_")))
        c = configured(variant)
        t0 = time.time()
        train_controller(c, workdir)  # resumes; returns at once when finished
        ctrl = load_controller(workdir)
        name = variant or "recipe"
        results[name] = {"workdir": workdir, "steps": c.train.steps, "controller": dict(c.controller),
                         "seconds": time.time() - t0}
        for split, path in (("held-out", TEST_DATA.value), ("training", DATA.value)):
            r = controller_rollouts(ctrl, path, EPISODES.value, horizon, SEED.value)
            results[name][split] = r
            rows.append([name, split] + [f"{r[k]:.3f} ± {r[k + '_std']:.3f}" for k in COLUMNS]
                        + [f"{r['controller_rollout_l1'] / r['idm_rollout_l1']:.2f}"])
    body = (f"LAM {LAM.value} under {ROOT.value}; {EPISODES.value} windows of {horizon} transitions per split "
            "(mean ± std over windows). rel_error: the controller's latents against the IDM's (1: no better than "
            "zero); gain: their projection on the IDM's (below 1: timid); rollouts: H steps driven by each, mean "
            "absolute error against the true states; movement ratio: how far the controller's rollout moves "
            "from the start, over the IDM's (lawm_jax/planning/controller_rollouts.py).\n\n"
            + table(["controller", "windows from"] + list(COLUMNS) + ["controller ÷ IDM rollout"], rows)
            + f"\n\nCommand: `{command_line()}`\n")
    path = write_report("controller_study", f"What limits the controller ({LAM.value})", body, results)
    print(open(path).read())


if __name__ == "__main__":
    app.run(main)
