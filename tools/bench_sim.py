"""Simulator throughput: frames/s of both trajectory generators (physics + rendering).

    python tools/bench_sim.py --frames=200 --repeats=3 --sizes=64,256

Times `record_episode` (what tools/make_trajectories.py runs per episode, without the
writing) for each simulator and frame size, and prints the median frames/s of the
repeats. Rendering of the arm goes through MuJoCo's EGL back end (Mesa's software
rasteriser on machines without a GPU, which may use several threads). Needs [sim].
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from lawm_jax.data.trajectories import ENVS, make_sim, record_episode  # noqa: E402

_FRAMES = flags.DEFINE_integer("frames", 200, "frames per timed repeat (episodes of 40)")
_REPEATS = flags.DEFINE_integer("repeats", 3, "timed repeats (the median is reported)")
_SIZES = flags.DEFINE_list("sizes", ["64", "256"], "frame sizes")


def frames_per_second(env: str, size: int, frames: int, repeats: int) -> list[float]:
    sim = make_sim(env, size, 4.0)
    record_episode(sim, np.random.default_rng(0), 4)  # warm-up: first render sets up GL
    rates = []
    for r in range(repeats):
        t0 = time.perf_counter()
        for e in range(frames // 40):
            record_episode(sim, np.random.default_rng([r, e]), 40)
        rates.append((frames // 40) * 40 / (time.perf_counter() - t0))
    sim.close()
    return rates


def main(argv):
    del argv
    for env in ENVS:
        for size in map(int, _SIZES.value):
            rates = frames_per_second(env, size, _FRAMES.value, _REPEATS.value)
            print(f"{env} {size}x{size}: {np.median(rates):.0f} frames/s "
                  f"(repeats {', '.join(f'{r:.0f}' for r in rates)})")


if __name__ == "__main__":
    app.run(main)
