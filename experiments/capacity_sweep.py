"""Capacity sweep, the paper's Fig. 4: held-out one-step error with IDM latents against
each constraint's coefficient, between the deterministic and unconstrained bounds.

    python tools/gather_footage.py --out=/data/footage          # 5 min of real video
    python experiments/capacity_sweep.py --root=/tmp/lawm_exp --data=/data/footage \
        --holdout=python3-imageio/cockatoo.mp4,opencv-doc/cup.mp4 --steps=1500 --decoder_steps=1000

Trains one model per coefficient (sparse λ_l1, noisy β, VQ codebook size) plus the
deterministic and unconstrained models, on the training videos; evaluates each on the
held-out videos; writes ROOT/capacity_sweep.{md,json} and capacity_sweep.png (and a
pixel-space plot with a decoder). Runs already trained under --root are reused. The
paper's scale is the same script with --config=configs/paper.py (and real data).
"""
import os

from absl import app, flags

import common
from lawm_jax import plots
from lawm_jax.progress import quiet_library_logs

SPARSE = flags.DEFINE_list("sparse", ["0.4", "0.1", "0.04", "0.01"], "sparse λ_l1 values")
NOISY = flags.DEFINE_list("noisy", ["0.1", "0.01", "0.001", "0.0001"], "noisy β values")
VQ = flags.DEFINE_list("vq", ["8", "64", "512"], "VQ codebook sizes")


def main(argv):
    del argv
    quiet_library_logs()
    runs = [("deterministic", None), ("unconstrained", None)]
    runs += [("sparse", float(v)) for v in SPARSE.value] + [("noisy", float(v)) for v in NOISY.value]
    runs += [("vq", int(v)) for v in VQ.value]
    rows, train_rows, codes, probes = [], [], [], []
    for kind, coef in runs:
        held, training, probe = [], [], []
        for seed in common.seeds():
            workdir = common.trained(kind, coef, seed)
            held.append(common.evaluated(workdir, kind, "capacity")["capacity"])
            # The same on the training videos: how much of the held-out error is generalisation
            # (not with --eval_data: those videos are all held out).
            if not common.EVAL_DATA.value:
                training.append(common.evaluated(workdir, kind, "capacity", split="train")["capacity"])
                probe.append(common.probed(workdir))  # scenes: the recorded motion the latent carries
        result = held[-1]  # the references do not depend on the model
        rows.append({"kind": kind, "coef": coef, **common.over_seeds([r["model"] for r in held])})
        codes.append({"kind": kind, "coef": coef, **common.over_seeds([r.get("latents", {}) for r in held])})
        if any(probe):
            probes.append({"kind": kind, "coef": coef, **common.over_seeds(probe)})
        if training:
            train_rows.append({"kind": kind, "coef": coef, **common.over_seeds([r["model"] for r in training])})
    references = [("copy_last", "copy_last")]
    if "decoded_real" in result:  # the decoder's own error: no decoded prediction can beat it
        references.append(("decoded real states", "decoded_real"))
    for name, key in references:
        rows.append({"kind": name, "coef": None, **result[key]})
        if training:
            train_rows.append({"kind": name, "coef": None, **training[-1][key]})
    metrics = common.metrics_of(rows[0])
    pictures = []
    for metric in metrics:
        out = os.path.join(common.ROOT.value, f"capacity_sweep{common.suffix()}_{metric}.png")
        where = f"videos of {common.EVAL_DATA.value}" if common.EVAL_DATA.value else "held-out clips"
        plots.capacity_curve(rows, out, metric, common.picture_title(f"{where}: one-step {metric}"))
        pictures.append(out)
    if train_rows:
        out = os.path.join(common.ROOT.value, "capacity_sweep_train_repr_l1.png")
        pictures.append(plots.capacity_curve(train_rows[:len(runs) + 1], out, "repr_l1",
                                             common.picture_title("training clips: one-step repr_l1")))
    body = [f"`{common.command_line()}`", "",
            f"Held-out one-step error with IDM latents (lower = more capacity; seeds {common.seeds()}, "
            "mean ± standard deviation where there are several). The paper gives "
            "Fig. 4 as a plot only: sparse and noisy latents span the range between the deterministic "
            "(upper) and unconstrained (lower) bounds as their coefficient moves; VQ stays near the "
            "deterministic bound.", "",
            common.table(["bottleneck", "coefficient"] + [f"{m} (held out)" for m in metrics]
                         + (["repr_l1 (training videos)"] if train_rows else []),
                         [[r["kind"], "" if r["coef"] is None else f"{r['coef']:g}"]
                          + [common.spread(r, m) for m in metrics]
                          + ([common.spread(train_rows[i], "repr_l1")] if train_rows else [])
                          for i, r in enumerate(rows)]), ""]
    stats = ["l1_norm", "l2_norm", "participation", "near_zero", "active_dims"]
    body += ["What the codes look like on the held-out clips (eval/capacity.latent_stats): mean norms; "
             "participation (|z|_1 / |z|_2)^2 from 1 (one dimension carries the code) to D; the share of a "
             "latent's entries under 5% of its largest; dimensions in use.", "",
             common.table(["bottleneck", "coefficient"] + stats,
                          [[c["kind"], "" if c["coef"] is None else f"{c['coef']:g}"]
                           + [common.spread(c, k) for k in stats]
                           for c in codes]), ""]
    if probes:
        parts = [k for k in probes[0] if k not in ("kind", "coef") and not k.endswith("_std")]
        body += ["Ground truth the paper lacks (scenes only; eval/motion_probe.motion_r2 on 256 held-out scenes): "
                 "R² of a linear probe from each transition's latent to the generator's recorded camera and agent "
                 "motion, and to the top 8 principal components of the state change; \"state change -> ...\" "
                 "probes the state change itself, the most any latent could carry linearly.", "",
                 common.table(["bottleneck", "coefficient"] + [f"R² {k}" for k in parts],
                              [[p["kind"], "" if p["coef"] is None else f"{p['coef']:g}"]
                               + [common.spread(p, k, 3) for k in parts] for p in probes]), ""]
    body += [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in pictures]
    path = common.write_report("capacity_sweep", "Capacity sweep (paper Fig. 4)", "\n".join(body),
                               {"held_out": rows, "training_videos": train_rows, "codes": codes,
                                "motion_r2": probes})
    print(open(path).read())


if __name__ == "__main__":
    app.run(main)
