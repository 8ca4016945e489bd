"""Capacity of the five bottlenecks at toy scale (the paper's Fig. 4 ordering, on CPU).

Trains configs/tiny.py once per bottleneck on procedural moving shapes and reports the
held-out one-step representation L1 with IDM latents, beside copying the last state:

    python experiments/tiny_bottlenecks.py --workdir=/tmp/tiny_bottlenecks --steps=300

Writes results.json and results.md into the workdir (docs/RESULTS.md quotes them).
"""
import json
import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs import tiny  # noqa: E402
from lawm_jax.data.synthetic import ShapesConfig, moving_shapes  # noqa: E402
from lawm_jax.eval.capacity import one_step_error  # noqa: E402
from lawm_jax.progress import quiet_library_logs  # noqa: E402
from lawm_jax.train.lam import train  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", "/tmp/tiny_bottlenecks", "where runs and results go")
_STEPS = flags.DEFINE_integer("steps", 300, "training steps per bottleneck")
_SEED = flags.DEFINE_integer("seed", 0, "seed of every run")
_KINDS = flags.DEFINE_list("kinds", ["deterministic", "vq", "sparse", "noisy", "unconstrained"], "bottlenecks")


def main(argv):
    del argv
    quiet_library_logs()
    held_out, _ = moving_shapes(ShapesConfig(num_clips=256), seed=10_000 + _SEED.value)
    rows = []
    for kind in _KINDS.value:
        c = tiny.get_config(kind)
        c.data.source = "shapes"  # the toy table in docs/RESULTS.md is on moving shapes
        c.seed = _SEED.value
        c.train.steps = _STEPS.value
        c.train.log_every = c.train.ckpt_every = _STEPS.value
        t0 = time.time()
        wm, params, _ = train(c, os.path.join(_WORKDIR.value, kind))
        rows.append({"bottleneck": kind, **one_step_error(wm, params, held_out),
                     "train_s": time.time() - t0})
    with open(os.path.join(_WORKDIR.value, "results.json"), "w") as f:
        json.dump(rows, f, indent=2)
    lines = ["| bottleneck | held-out one-step L1 | copy last state | train time (s) |",
             "|---|---|---|---|"]
    lines += [f"| {r['bottleneck']} | {r['pred_l1']:.4f} | {r['copy_last_l1']:.4f} | {r['train_s']:.0f} |"
              for r in rows]
    table = "\n".join(lines)
    with open(os.path.join(_WORKDIR.value, "results.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    app.run(main)
