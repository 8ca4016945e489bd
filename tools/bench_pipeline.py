"""Does the data pipeline keep up with training? The tiny config, side by side in one run.

    python tools/bench_pipeline.py --steps=60 --repeats=3

Times the compiled train step of configs/tiny.py on one fixed batch (what training would
run at with free data), then the same step fed by each pipeline: the bundled footage
decoded on the fly (in the training process, and with Grain worker processes), and the
same clips pre-decoded into ArrayRecord shards. Reports median steps/s and the ratio to
the data-free rate; a ratio near 1 means the pipeline keeps up.
"""
from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # configs/, tools/

import jax  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from configs import tiny  # noqa: E402
from lawm_jax.config import validate  # noqa: E402
from lawm_jax.data.pipeline import config_batches  # noqa: E402
from lawm_jax.train.lam import compiled_train_step  # noqa: E402
from ml_collections import FrozenConfigDict  # noqa: E402
from lawm_jax.train.loop import mesh_for  # noqa: E402
from lawm_jax.train.sharding import global_batch  # noqa: E402
from lawm_jax.train.step import init_train_state  # noqa: E402
from tools.make_shards import make_shards  # noqa: E402

_STEPS = flags.DEFINE_integer("steps", 60, "timed steps per repeat")
_REPEATS = flags.DEFINE_integer("repeats", 3, "timed repeats (the median is reported)")


def steps_per_second(config, batches) -> list[float]:
    """Median-ready list of steps/s over repeats; `batches()` yields uint8 video batches."""
    wm_cfg = validate(config)
    mesh = mesh_for(config)
    compiled = compiled_train_step(wm_cfg, FrozenConfigDict(config.train), mesh)
    wm, step_fn = compiled.wm, compiled.step
    params = wm.init(jax.random.key(0))
    state = jax.device_put(init_train_state(wm, compiled.tx, params), compiled.state_shardings)
    rng = jax.random.key(1)
    it = batches()
    for _ in range(3):  # compile, fill prefetch buffers
        state, metrics = step_fn(rng, state, params["encoder"], global_batch(mesh, {"video": next(it)}))
    jax.block_until_ready(metrics)
    rates = []
    for _ in range(_REPEATS.value):
        t0 = time.perf_counter()
        for _ in range(_STEPS.value):
            state, metrics = step_fn(rng, state, params["encoder"], global_batch(mesh, {"video": next(it)}))
        jax.block_until_ready(metrics)
        rates.append(_STEPS.value / (time.perf_counter() - t0))
    if hasattr(it, "close"):
        it.close()
    return rates


def pipeline(config, **data):
    def batches():
        c = config.copy_and_resolve_references()
        c.data.update(data)
        it, _ = config_batches(c.data, 0, 2, c.data.global_batch)

        class Videos:  # the pipeline's batches, video only, closable
            def __next__(self):
                return next(it)["video"]

            def close(self):
                it.close()
        return Videos()
    return batches


def main(argv):
    del argv
    config = tiny.get_config()
    d = config.data
    fixed = np.random.default_rng(0).integers(0, 256, (d.global_batch, d.frames, d.image_size,
                                                       d.image_size, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        make_shards(d.path, f"{folder}/shards", d.frames, d.fps, d.image_size, random_crops=4)
        runs = {
            "fixed batch (no data loading)": lambda: itertools.repeat(fixed),
            "video, decoded in the training process": pipeline(config),
            "video, 2 Grain worker processes": pipeline(config, workers=2),
            "shards (tools/make_shards.py)": pipeline(config, source="shards", path=f"{folder}/shards"),
        }
        results = {name: steps_per_second(config, batches) for name, batches in runs.items()}
    base = float(np.median(results["fixed batch (no data loading)"]))
    print(f"configs/tiny.py: batch {d.global_batch} x {d.frames} frames of {d.image_size}^2, "
          f"data {d.path}")
    print("| data | steps/s (median) | clips/s | ratio to no loading | repeats |")
    print("|---|---|---|---|---|")
    for name, rates in results.items():
        median = float(np.median(rates))
        print(f"| {name} | {median:.1f} | {median * d.global_batch:.0f} | {median / base:.2f} | "
              f"{', '.join(f'{r:.1f}' for r in rates)} |")


if __name__ == "__main__":
    app.run(main)
