"""Scaling study, the paper's Fig. 12 at small scale: held-out one-step error with IDM
latents against training length, predictor size and the amount of training video.

    python experiments/scaling_study.py --root=/tmp/lawm_exp --data=/data/footage \
        --holdout=fraction:0.2 --steps=2000

For sparse (λ_l1 0.01) and noisy (β 1e-4) latents, one axis at a time around the
default (--steps, the config's predictor, all training videos): steps x {1/4, 1/2, 1, 2}
(--step_factors), predictor width x {1/2, 1, 2} (IDM alike; --widths), and a seeded
{1/4, 1/2, 1} share of the training videos (--shares; evaluation always on the same
held-out videos). Writes
ROOT/scaling_study.{md,json} and scaling_study.png. The paper gives the figure only:
IDM prediction improves on all three axes.
"""
import os

import numpy as np
from absl import app, flags

import common
from lawm_jax import plots
from lawm_jax.data.clips import list_videos, split_videos
from lawm_jax.eval.run import evaluate
from lawm_jax.progress import quiet_library_logs
from lawm_jax.train.lam import train

KINDS = flags.DEFINE_list("kinds", ["sparse", "noisy"], "bottlenecks to scale")
STEP_FACTORS = flags.DEFINE_list("step_factors", ["0.25", "0.5", "1", "2"], "training steps, as multiples of --steps")
WIDTHS = flags.DEFINE_list("widths", ["0.5", "1", "2"], "IDM and predictor widths, as multiples of the config's")
SHARES = flags.DEFINE_list("shares", ["0.25", "0.5", "1"], "shares of the training videos")
COEF = {"sparse": 0.01, "noisy": 1e-4}


def video_lists(c):
    """(list file of the held-out videos, {share: list file of that share of the training videos})."""
    videos = list_videos(c.data.path)
    held = split_videos(videos, c.data.path, c.data.holdout, "holdout")
    training = split_videos(videos, c.data.path, c.data.holdout, "train")
    order = np.random.default_rng(common.SEED.value).permutation(len(training))
    out = os.path.join(common.ROOT.value, "scaling_lists")
    os.makedirs(out, exist_ok=True)

    def write(name, paths):
        path = os.path.join(out, name)
        with open(path, "w") as f:
            f.write("\n".join(os.path.abspath(p) for p in paths) + "\n")
        return path

    shares = {s: write(f"train_{s:g}.txt", [training[i] for i in sorted(order[:max(1, round(s * len(training)))])])
              for s in {1.0, *map(float, SHARES.value)}}
    return write("holdout.txt", held), shares


def run(kind, steps, width, share, held_list, train_list):
    """Held-out error of one model; the default point is trained once for all three axes."""
    c = common.base_config(kind)
    c.model.bottleneck[common.FIELD[kind]] = COEF[kind]
    c.data.path, c.data.holdout = train_list, ""
    c.train.steps = int(steps)
    c.train.log_every = max(c.train.steps // 20, 1)
    c.train.ckpt_every = c.train.steps
    for net in (c.model.idm, c.model.predictor):
        net["width"] = int(net["width"] * width)
        net["mlp_hidden"] = int(net["mlp_hidden"] * width)
    workdir = os.path.join(common.ROOT.value, "scaling", f"{kind}_steps{steps}_width{width:g}_data{share:g}")
    train(c, workdir)
    c.job = "evaluate"
    c.eval.update(kinds="capacity", path=held_list, max_clips=common.MAX_CLIPS.value)
    return evaluate(c, workdir)["capacity"]["model"]["repr_l1"]


def main(argv):
    del argv
    quiet_library_logs()
    base = common.base_config("sparse")
    held_list, shares = video_lists(base)
    steps = base.train.steps
    axes = {"steps": [max(1, round(steps * f)) for f in map(float, STEP_FACTORS.value)],
            "width": [float(w) for w in WIDTHS.value], "data": [float(d) for d in SHARES.value]}
    rows = []
    for kind in KINDS.value:
        for axis, values in axes.items():
            for value in values:
                point = {"steps": steps, "width": 1.0, "data": 1.0, axis: value}
                rows.append({"kind": kind, "axis": axis, "value": value,
                             "repr_l1": run(kind, point["steps"], point["width"], point["data"], held_list,
                                            shares[point["data"]])})
    plots.scaling_curves(rows, os.path.join(common.ROOT.value, "scaling_study.png"))
    body = "\n".join([f"`{common.command_line()}`", "",
                      "Held-out one-step representation L1 with IDM latents (lower is better), one axis "
                      f"varied at a time around {steps} steps, the config's widths and all training videos. "
                      "The paper (Fig. 12, no numbers in the text): IDM prediction improves along all three.", "",
                      common.table(["latents", "axis", "value", "repr_l1"],
                                   [[r["kind"], r["axis"], f"{r['value']:g}", r["repr_l1"]] for r in rows]),
                      "", "![scaling](scaling_study.png)"])
    path = common.write_report("scaling_study", "Scaling study (paper Fig. 12)", body, rows)
    print(open(path).read())


if __name__ == "__main__":
    app.run(main)
