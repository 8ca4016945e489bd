"""Sampling latent actions without a video (paper App. B, Fig. S1): how far latents drawn
from each bottleneck's prior are from those the IDM infers on held-out clips.

    python experiments/sampling_table.py --root=/tmp/lawm_exp --data=/data/footage \
        --holdout=fraction:0.2 --steps=2000

Noisy: the prior N(0, I); VQ: the codes the held-out latents use; sparse: SGLD on the
sparse energy (--sgld_steps of --sgld_step_size, temperature 1). Reports the
separability (held-out accuracy of a quadratic discriminant; 0.5 = indistinguishable) and
the mean norms, at low and high capacity, with a PCA plot per model. The paper (UMAP):
sampled and inferred latents overlap at low capacity and separate easily at high.
Reuses the runs under --root. Writes ROOT/sampling_table.{md,json}.
"""
import os

from absl import app, flags

import common
from lawm_jax.progress import quiet_library_logs

SGLD_STEPS = flags.DEFINE_integer("sgld_steps", 1000, "SGLD steps (sparse)")
SGLD_STEP_SIZE = flags.DEFINE_float("sgld_step_size", 0.01, "SGLD step size (sparse)")


def main(argv):
    del argv
    quiet_library_logs()
    rows, results, plots = [], {}, []
    for kind, cap, coef in common.table_models(bounds=False):
        per_seed = []
        for seed in common.seeds():
            workdir = common.trained(kind, coef, seed)
            r = common.evaluated(workdir, kind, "sampling", sgld_steps=SGLD_STEPS.value,
                                 sgld_step_size=SGLD_STEP_SIZE.value)["sampling"]
            per_seed.append({k: v for k, v in r.items() if k not in ("inferred", "sampled")})
            if seed == common.seeds()[0]:  # one embedding picture per model
                plots.append((common.run_name(kind, coef, seed), os.path.relpath(
                    os.path.join(workdir, common.eval_dir(), "latent_embedding.png"), common.ROOT.value)))
        results[common.run_name(kind, coef)] = per_seed if len(per_seed) > 1 else per_seed[0]
        m = common.over_seeds(per_seed)
        converged = (f"{sum(r['sgld_converged'] for r in per_seed)}/{len(per_seed)} (drift "
                     f"{common.spread(m, 'sgld_drift', 2)})" if "sgld_converged" in per_seed[0] else "")
        rows.append([kind, cap, f"{coef:g}", common.spread(m, "separability", 3), common.spread(m, "inferred_norm", 2),
                     common.spread(m, "sampled_norm", 2), common.spread(m, "codes_in_use", 1), converged])
    body = [f"`{common.command_line()}`", "",
            f"Seeds {common.seeds()} (mean ± standard deviation where there are several). "
            "Separability: held-out accuracy of a quadratic discriminant between inferred (noisy: posterior "
            "samples) and sampled latents "
            "(0.5 = the sampler matches the inferred distribution; 1 = fully apart). Sparse latents: SGLD, "
            f"{SGLD_STEPS.value} steps of {SGLD_STEP_SIZE.value:g} at temperature 1. Low/high capacity "
            f"coefficients are ours: (low / high) {common.capacity_note()}.", "",
            common.table(["latents", "capacity", "coefficient", "separability", "|z| inferred", "|z| sampled",
                          "VQ codes in use", "SGLD converged (seeds)"], rows), "",
            "SGLD converged: whether the chains' mean |z| stopped moving over the second half of the run "
            "(eval/sampling.ensemble_drift < 0.1); where it did not, the sampled latents are still near their "
            "N(0, 1) start and the separability says more about the sampler's length than about the prior.", ""]
    body += [f"**{name}**\n\n![{name}]({path})\n" for name, path in plots]
    path = common.write_report("sampling_table", "Sampling latent actions (paper App. B)", "\n".join(body), results)
    print(open(path).read())


if __name__ == "__main__":
    app.run(main)
