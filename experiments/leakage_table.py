"""Future leakage at scene cuts, the paper's Table 1, beside the paper's numbers.

    python experiments/leakage_table.py --root=/tmp/lawm_exp --data=/data/footage \
        --holdout=python3-imageio/cockatoo.mp4,opencv-doc/cup.mp4 --steps=1500 --decoder_steps=1000

Splices the end of one held-out clip onto another (of another video) and compares the
error at the cut with the same transition in the original clips, for sparse, noisy and
VQ latents at low and high capacity (experiments/common.py: CAPACITY, or --capacity), with the
deterministic model and copying the last state as references. Reuses the runs of
capacity_sweep.py under the same --root. Writes ROOT/leakage_table.{md,json}.
"""
from absl import app

import common
from lawm_jax.progress import quiet_library_logs

# Table 1 (Kinetics, LPIPS on decoded frames): (w/o change, w/ change).
PAPER = {("sparse", "low"): (0.28, 0.66), ("sparse", "high"): (0.20, 0.50), ("noisy", "low"): (0.33, 0.69),
         ("noisy", "high"): (0.21, 0.54), ("vq", "low"): (0.34, 0.69), ("vq", "high"): (0.29, 0.68)}


def summary(per_seed) -> dict:
    """{metric_cut, metric_no_cut, metric_ratio} over seeds (mean, and _std with several)."""
    return common.over_seeds([{f"{m}_{k}": r[m][k] for m in r for k in ("cut", "no_cut", "ratio")}
                              for r in per_seed])


def main(argv):
    del argv
    quiet_library_logs()
    models = common.table_models()
    rows, results = [], {}
    for kind, cap, coef in models:
        per_seed = [common.evaluated(common.trained(kind, coef, seed), kind, "leakage")["leakage"]
                    for seed in common.seeds()]
        results[common.run_name(kind, coef)] = per_seed if len(per_seed) > 1 else per_seed[0]
        rows.append((kind, cap, coef, summary(r["model"] for r in per_seed)))
    copy = per_seed[-1]["copy_last"]
    metrics = common.metrics_of(copy)
    header = ["latents", "capacity", "coefficient"]
    for m in metrics:
        header += [f"{m} w/o change", "w/ change", "ratio"]
    header += ["paper w/o (LPIPS)", "paper w/", "paper ratio"]
    table = []
    for kind, cap, coef, m in rows + [("copy last state", "-", None, summary([copy]))]:
        p = PAPER.get((kind, cap))
        cells = [kind, cap, "" if coef is None else f"{coef:g}"]
        for metric in metrics:
            cells += [common.spread(m, f"{metric}_no_cut"), common.spread(m, f"{metric}_cut"),
                      "×" + common.spread(m, f"{metric}_ratio", 2)]
        table.append(cells + ([p[0], p[1], f"×{p[1] / p[0]:.1f}"] if p else ["", "", ""]))
    metric = ", ".join(metrics)
    body = "\n".join([
        f"`{common.command_line()}`", "",
        "Error of the transition into the first spliced step vs the same transition in the original "
        f"clips ({metric}; the paper: LPIPS on Kinetics). A model whose latent copies the next frame "
        "shows no jump (ratio near 1); every model of the paper at least doubles its error. Low/high "
        f"capacity coefficients are ours: (low / high) {common.capacity_note()}.", "", common.table(header, table), "",
        f"![leakage profile](unconstrained/{common.eval_dir()}/leakage_profile.png)"])
    path = common.write_report("leakage_table", "Future leakage at scene cuts (paper Table 1)", body, results)
    print(open(path).read())


if __name__ == "__main__":
    app.run(main)
