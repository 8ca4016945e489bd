"""Cycle-consistency transfer across videos, the paper's Table 2, beside its numbers.

    python experiments/transfer_table.py --root=/tmp/lawm_exp --data=/data/footage \
        --holdout=python3-imageio/cockatoo.mp4,opencv-doc/cup.mp4 --steps=1500 --decoder_steps=1000

Infers latents on held-out clip A, rolls them out from clip B (another video),
re-infers them on the predicted B and rolls those out from A's context again; reports
A's error with its own ("original") and with the cycled ("transfer") latents over the
clip's remaining steps, for sparse, noisy and VQ latents at low and high capacity, with
the deterministic model and copying the last state as references. With a decoder
(--decoder_steps) also frame grids of each model's first pairs. Reuses the runs under
--root. Writes ROOT/transfer_table.{md,json}.
"""
import os

from absl import app

import common
from lawm_jax.progress import quiet_library_logs

# Table 2 (LPIPS on decoded frames, 2 s): Kinetics (original, transfer), RECON (original, transfer).
PAPER = {("sparse", "low"): (0.26, 0.31, 0.24, 0.29), ("sparse", "high"): (0.19, 0.24, 0.20, 0.23),
         ("noisy", "low"): (0.30, 0.34, 0.29, 0.33), ("noisy", "high"): (0.20, 0.26, 0.20, 0.24),
         ("vq", "low"): (0.32, 0.33, 0.32, 0.33), ("vq", "high"): (0.27, 0.29, 0.26, 0.27)}


def main(argv):
    del argv
    quiet_library_logs()
    models = common.table_models()
    rows, results, grids = [], {}, []
    for kind, cap, coef in models:
        per_seed = []
        for seed in common.seeds():
            workdir = common.trained(kind, coef, seed)
            per_seed.append(common.evaluated(workdir, kind, "transfer,pictures", pictures=2)["transfer"])
        results[common.run_name(kind, coef)] = per_seed if len(per_seed) > 1 else per_seed[0]
        res = per_seed[-1]
        flat = [{f"{m}_{k}": r[k][m] for k in ("original", "transfer", "ratio") for m in r["original"]}
                for r in per_seed]
        rows.append((kind, cap, coef, common.over_seeds(flat)))
        grid = os.path.join(workdir, common.eval_dir(), "transfer_0.png")
        if os.path.exists(grid):
            grids.append((common.run_name(kind, coef, seed), os.path.relpath(grid, common.ROOT.value)))
    metrics = common.metrics_of(res["original"])
    header = ["latents", "capacity", "coefficient"]
    for m in metrics:
        header += [f"{m} original", "transfer", "ratio"]
    header += ["paper Kinetics orig. / transfer (LPIPS)", "paper RECON orig. / transfer"]
    table = []
    for kind, cap, coef, r in rows:
        p = PAPER.get((kind, cap))
        cells = [kind, cap, "" if coef is None else f"{coef:g}"]
        for m in metrics:
            cells += [common.spread(r, f"{m}_original"), common.spread(r, f"{m}_transfer"),
                      "×" + common.spread(r, f"{m}_ratio", 2)]
        paper = [f"{a:.2f} / {b:.2f} (×{b / a:.2f})" for a, b in (p[:2], p[2:])] if p else ["", ""]
        table.append(cells + paper)
    copy = res["copy_last"]
    table.append(["copy last state", "-", ""] + [c for m in metrics for c in (copy[m], "", "")] + ["", ""])
    metric = ", ".join(metrics)
    horizon = res["predicted_steps"]
    body = [f"`{common.command_line()}`", "",
            f"A's error over {horizon} predicted steps ({res['predicted_seconds']:g} s after "
            f"{res['context_steps']} real step(s); seeds {common.seeds()}, mean ± standard deviation where there are "
            f"several) with its own latents (original) and with latents "
            f"cycled through another video (transfer), {metric}. The paper: transfer costs ×1.03-1.34. "
            f"Low/high capacity coefficients are ours: (low / high) {common.capacity_note()}.", "",
            common.table(header, table), ""]
    body += [f"**{name}**: rows = A real, A IDM rollout, B real, B driven by A's latents, A with cycled latents\n\n"
             f"![{name}]({path})\n" for name, path in grids]
    path = common.write_report("transfer_table", "Cycle-consistency transfer (paper Table 2)", "\n".join(body),
                               results)
    print(open(path).read())


if __name__ == "__main__":
    app.run(main)
