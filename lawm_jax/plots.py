"""PNG plots of a run's numbers (matplotlib's object API: no global backend is changed,
so notebooks keep their inline backend)."""
from __future__ import annotations

import json
import os

# (title, metric keys, log y-axis); panels whose keys never appear are left out.
PANELS = (
    ("loss", ("loss", "pred_l1", "latent_loss"), True),
    ("gradient norm", ("grad_norm",), True),
    ("learning rate", ("lr/muon", "lr/adam"), False),
    ("latent norm", ("bottleneck/latent_norm",), False),
    ("KL (noisy)", ("bottleneck/kl",), False),
    ("code perplexity (vq)", ("bottleneck/perplexity",), False),
    ("near-zero fraction (sparse)", ("bottleneck/near_zero_frac",), False),
    ("throughput (clips/s)", ("throughput/clips_per_s",), False),
    ("data wait (fraction of time)", ("time/data_wait_frac",), False),
)


def read_metrics(path: str) -> list[dict]:
    """Rows of a metrics.jsonl, one per step (the last row written for a step wins: a run
    killed after logging and resumed from an earlier checkpoint logs those steps again)."""
    rows = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                rows[row["step"]] = row
    return [rows[s] for s in sorted(rows)]


def training_curves(metrics_path: str, out: str) -> str:
    """A metrics.jsonl -> a PNG of its curves, one panel per group of PANELS; returns `out`."""
    from matplotlib.figure import Figure

    rows = read_metrics(metrics_path)
    if not rows:
        raise ValueError(f"{metrics_path} has no rows to plot")
    panels = [(title, [k for k in keys if any(k in r for r in rows)], log)
              for title, keys, log in PANELS]
    panels = [p for p in panels if p[1]]
    cols = 3
    nrows = -(-len(panels) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.0 * nrows), dpi=100, layout="constrained")
    for i, (title, keys, log) in enumerate(panels):
        ax = fig.add_subplot(nrows, cols, i + 1)
        for key in keys:
            pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
            if pts:
                ax.plot(*zip(*pts), label=key, marker="." if len(pts) < 30 else None)
        if log and all(v > 0 for line in ax.get_lines() for v in line.get_ydata()):
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(os.path.basename(os.path.dirname(os.path.abspath(metrics_path))))
    fig.savefig(out)
    return out
