"""Does Muon's Newton-Schulz in bf16 train as well as in float32? (docs/PERFORMANCE.md)

Trains configs/tiny.py on procedural moving shapes once per (train.muon_ns_dtype, seed)
and compares the training curves and the held-out one-step L1 across seeds:

    python experiments/muon_precision.py --workdir=/tmp/muon_precision --steps=1000 --seeds=0,1,2
    python experiments/muon_precision.py --workdir=/tmp/muon_precision --report_only   # redraw

Writes results.json, results.md and curves.png into the workdir. The verdict line says
whether the bf16 runs' mean curve stays inside the float32 seeds' band (min to max over
seeds, each point the mean of a window of logged steps) at every logged step after the
warm-up, and how the held-out error's difference compares with its seed spread.
"""
import json
import os
import sys
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs import tiny  # noqa: E402
from lawm_jax.data.synthetic import ShapesConfig, moving_shapes  # noqa: E402
from lawm_jax.eval.capacity import one_step_error  # noqa: E402
from lawm_jax.progress import quiet_library_logs  # noqa: E402
from lawm_jax.train.lam import train  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", "/tmp/muon_precision", "where runs and results go")
_STEPS = flags.DEFINE_integer("steps", 1000, "training steps per run")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "seeds of each dtype")
_KIND = flags.DEFINE_string("kind", "noisy", "bottleneck (configs/tiny.py argument)")
_REPORT_ONLY = flags.DEFINE_bool("report_only", False, "rewrite results.md and curves.png from the workdir's "
                                 "results.json, training nothing")
_DTYPES = ("float32", "bfloat16")
_WINDOW = 5  # logged rows averaged per curve point (training losses are noisy per batch)


def curve(workdir: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, loss) of a run's metrics.jsonl, each point the mean of _WINDOW rows."""
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f if '"loss"' in line]
    steps = np.array([r["step"] for r in rows])
    loss = np.array([r["loss"] for r in rows])
    w = max(1, min(_WINDOW, len(loss)))
    n = len(loss) // w * w
    return steps[w - 1:n:w], loss[:n].reshape(-1, w).mean(1)


def verdict(results: dict, warmup_frac: float) -> dict:
    """bf16's mean curve inside float32's seed band after the warm-up; held-out error."""
    steps = np.array(results["float32"]["steps"])
    f32, bf16 = (np.array(results[d]["curves"]) for d in _DTYPES)
    after = steps > warmup_frac * steps[-1]
    mean = bf16.mean(0)
    inside = (mean >= f32.min(0)) & (mean <= f32.max(0))
    held = {d: np.array(results[d]["held_out_l1"]) for d in _DTYPES}
    return {"points_after_warmup": int(after.sum()), "inside_band": int((inside & after).sum()),
            "max_paired_diff": float(np.abs(bf16 - f32).max()), "mean_f32_sd": float(f32.std(0, ddof=1).mean()),
            "held_out_diff": float(held["bfloat16"].mean() - held["float32"].mean()),
            "held_out_f32_sd": float(held["float32"].std(ddof=1)) if len(held["float32"]) > 1 else 0.0}


def plot(results: dict, out: str) -> str:
    """Left: each dtype's mean curve and seed band. Right: bf16 minus float32 seed by seed
    (the same data order and initialisation), against float32's spread across seeds."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(11, 3.6), dpi=110, layout="constrained")
    ax, diff = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    steps = np.array(results["float32"]["steps"])
    for dtype, color in zip(_DTYPES, ("tab:blue", "tab:orange")):
        curves = np.array(results[dtype]["curves"])
        ax.fill_between(steps, curves.min(0), curves.max(0), color=color, alpha=0.25)
        ax.plot(steps, curves.mean(0), color=color,
                label=f"Newton-Schulz in {dtype} (mean, band: min-max over {len(curves)} seeds)")
    ax.set_xlabel("step")
    ax.set_ylabel(f"training loss (mean of {_WINDOW} logged rows)")
    ax.set_title(f"configs/tiny.py:{results['kind']} on moving shapes")
    ax.legend(fontsize=7)
    f32, bf16 = (np.array(results[d]["curves"]) for d in _DTYPES)
    sd = f32.std(0, ddof=1)
    diff.fill_between(steps, -sd, sd, color="tab:blue", alpha=0.2, label="± float32's sd across seeds")
    for seed, d in zip(results["float32"]["seeds"], bf16 - f32):
        diff.plot(steps, d, label=f"seed {seed}: bf16 - float32")
    diff.axhline(0, color="gray", lw=0.5)
    diff.set_xlabel("step")
    diff.set_ylabel("training loss difference")
    diff.set_title("the same seed, bf16 minus float32")
    diff.legend(fontsize=7)
    fig.savefig(out)
    return out


def train_runs() -> dict:
    """Every (dtype, seed) run: its curve, held-out one-step L1 and wall time."""
    held_out, _ = moving_shapes(ShapesConfig(num_clips=256), seed=10_000)
    results = {"kind": _KIND.value}
    for dtype in _DTYPES:
        r = results[dtype] = {"curves": [], "held_out_l1": [], "train_s": [], "seeds": []}
        for seed in map(int, _SEEDS.value):
            c = tiny.get_config(_KIND.value)
            c.data.source = "shapes"
            c.seed = seed
            c.train.update(steps=_STEPS.value, muon_ns_dtype=dtype, log_every=10, ckpt_every=_STEPS.value,
                           progress_bar=False)
            workdir = os.path.join(_WORKDIR.value, f"{dtype}_seed{seed}")
            t0 = time.time()
            wm, params, _ = train(c, workdir)
            r["train_s"].append(time.time() - t0)
            steps, loss = curve(workdir)
            r["steps"] = steps.tolist()
            r["curves"].append(loss.tolist())
            r["held_out_l1"].append(one_step_error(wm, params, held_out)["pred_l1"])
            r["seeds"].append(seed)
    results["warmup_frac"] = c.train.warmup_frac
    return results


def main(argv):
    del argv
    quiet_library_logs()
    path = os.path.join(_WORKDIR.value, "results.json")
    if _REPORT_ONLY.value:
        with open(path) as f:
            results = json.load(f)
    else:
        results = train_runs()
    results["verdict"] = v = verdict(results, results.get("warmup_frac", 0.1))
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    lines = ["| Newton-Schulz dtype | seeds | final training loss (mean ± sd) | held-out one-step L1 (mean ± sd) "
             "| train time, s per run (median) |", "|---|---|---|---|---|"]
    for dtype in _DTYPES:
        r = results[dtype]
        final, held = np.array(r["curves"])[:, -1], np.array(r["held_out_l1"])
        lines.append(f"| {dtype} | {len(final)} | {final.mean():.4f} ± {final.std(ddof=1):.4f} | "
                     f"{held.mean():.4f} ± {held.std(ddof=1):.4f} | {np.median(r['train_s']):.0f} |")
    lines.append("")
    lines.append(f"bf16's mean curve inside float32's seed band at {v['inside_band']} of "
                 f"{v['points_after_warmup']} points after the warm-up; seed by seed the curves differ by at most "
                 f"{v['max_paired_diff']:.4f} (float32's sd across seeds: {v['mean_f32_sd']:.4f} on average); "
                 f"held-out L1 bf16 - float32 = {v['held_out_diff']:+.4f} (float32's seed sd "
                 f"{v['held_out_f32_sd']:.4f}).")
    table = "\n".join(lines)
    with open(os.path.join(_WORKDIR.value, "results.md"), "w") as f:
        f.write(table + "\n")
    plot(results, os.path.join(_WORKDIR.value, "curves.png"))
    print(table)


if __name__ == "__main__":
    app.run(main)
