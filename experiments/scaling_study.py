"""Scaling study, the paper's Fig. 12 at small scale: held-out one-step error with IDM
latents against training length, predictor size and the amount of training data.

    python experiments/scaling_study.py --root=/tmp/lawm_exp --data=/data/footage \
        --holdout=fraction:0.2 --steps=2000

For sparse (λ_l1 0.01) and noisy (β 1e-4) latents (--coefficients), one axis at a time
around the default (--steps, the config's predictor, all training data): steps x {1/4,
1/2, 1, 2} (--step_factors), predictor width x {1/2, 1, 2} (IDM alike; --widths), and a
share {1/4, 1/2, 1} of the training data (--shares): of the training videos (a seeded
subset), or for the scenes stream (data.source=scenes) of the distinct clips a run draws
(share x steps x batch clips, each then seen 1/share times; 1 = every clip new).
Evaluation is always on the same held-out clips. With --seeds every point is trained
once per seed (the figure draws the spread). The default point is the run of
capacity_sweep.py (ROOT/<kind>_<coefficient>), reused. Writes ROOT/scaling_study.{md,json}
and scaling_study.png. The paper gives the figure only: IDM prediction improves on all
three axes.
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
COEFFICIENTS = flags.DEFINE_list("coefficients", ["sparse:0.01", "noisy:0.0001"],
                                 "KIND:VALUE, each scaled bottleneck's coefficient")
STEP_FACTORS = flags.DEFINE_list("step_factors", ["0.25", "0.5", "1", "2"], "training steps, as multiples of --steps")
WIDTHS = flags.DEFINE_list("widths", ["0.5", "1", "2"], "IDM and predictor widths, as multiples of the config's")
SHARES = flags.DEFINE_list("shares", ["0.25", "0.5", "1"], "shares of the training data")


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


def coefficient(kind: str) -> float:
    for item in COEFFICIENTS.value:
        name, _, value = item.partition(":")
        if name == kind:
            return float(value)
    raise app.UsageError(f"--coefficients={','.join(COEFFICIENTS.value)} has no KIND:VALUE for {kind}")


def run(kind, seed, steps, width, share, default, lists):
    """Held-out error of one model; the default point is capacity_sweep's run."""
    coef = coefficient(kind)
    c = common.base_config(kind)
    c.seed = seed
    c.model.bottleneck[common.FIELD[kind]] = coef
    if (steps, width, share) == default:
        workdir = common.trained(kind, coef, seed)
    else:
        c.train.steps = int(steps)
        c.train.log_every = max(c.train.steps // 20, 1)
        c.train.ckpt_every = c.train.steps
        for net in (c.model.idm, c.model.predictor):
            net["width"] = int(net["width"] * width)
            net["mlp_hidden"] = int(net["mlp_hidden"] * width)
        if lists:
            c.data.path, c.data.holdout = lists[1][share], ""
        elif share < 1:  # scenes: fewer distinct clips, each seen more often
            c.data.scenes.clips = max(1, round(share * steps * c.data.global_batch))
        name = f"{kind}_steps{steps}_width{width:g}_data{share:g}"
        workdir = os.path.join(common.ROOT.value, "scaling", common.run_name(name, seed=seed))
        train(c, workdir)
    c.job, c.seed = "evaluate", common.SEED.value  # the same held-out clips for every seed
    c.eval.update(kinds="capacity", max_clips=common.MAX_CLIPS.value, out="eval_scaling")
    if lists:
        c.eval.path = lists[0]
    return evaluate(c, workdir)["capacity"]["model"]["repr_l1"]


def main(argv):
    del argv
    quiet_library_logs()
    base = common.base_config("sparse")
    lists = None if base.data.source == "scenes" else video_lists(base)
    steps = base.train.steps
    axes = {"steps": [max(1, round(steps * f)) for f in map(float, STEP_FACTORS.value)],
            "width": [float(w) for w in WIDTHS.value], "data": [float(d) for d in SHARES.value]}
    default = (steps, 1.0, 1.0)
    rows = []
    for kind in KINDS.value:
        for axis, values in axes.items():
            for value in values:
                point = dict(zip(("steps", "width", "data"), default), **{axis: value})
                per_seed = [run(kind, seed, point["steps"], point["width"], point["data"], default, lists)
                            for seed in common.seeds()]
                rows.append({"kind": kind, "axis": axis, "value": value,
                             **common.over_seeds([{"repr_l1": e} for e in per_seed])})
    plots.scaling_curves(rows, os.path.join(common.ROOT.value, "scaling_study.png"),
                         title=common.picture_title("held-out one-step error"))
    data = ("share of the distinct scenes clips a run draws (share x steps x batch)" if lists is None
            else "share of the training videos")
    body = "\n".join([f"`{common.command_line()}`", "",
                      "Held-out one-step representation L1 with IDM latents (lower is better), one axis "
                      f"varied at a time around {steps} steps, the config's widths and all training data "
                      f"(data axis: {data}); coefficients {', '.join(COEFFICIENTS.value)}; seeds "
                      f"{common.seeds()}, mean ± standard deviation where there are several. "
                      "The paper (Fig. 12, no numbers in the text): IDM prediction improves along all three.", "",
                      common.table(["latents", "axis", "value", "repr_l1"],
                                   [[r["kind"], r["axis"], f"{r['value']:g}", common.spread(r, "repr_l1")]
                                    for r in rows]),
                      "", "![scaling](scaling_study.png)"])
    path = common.write_report("scaling_study", "Scaling study (paper Fig. 12)", body, rows)
    print(open(path).read())


if __name__ == "__main__":
    app.run(main)
