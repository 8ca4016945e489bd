"""How long the train step takes to trace and compile, with and without scan over layers.

    python tools/bench_compile.py --config=configs/paper.py --batch=2

Lowers the config's train step on abstract arrays (nothing is allocated, so ViT-L fits
on a laptop) once with the config's layers as written and once with every network's
`scan` switched on (remat as configured), and prints trace and compile seconds.
"""
from __future__ import annotations

import functools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # configs/

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from lawm_jax.config import validate  # noqa: E402
from lawm_jax.train.lam import compiled_train_step  # noqa: E402
from ml_collections import FrozenConfigDict  # noqa: E402
from lawm_jax.train.sharding import make_mesh  # noqa: E402
from lawm_jax.train.step import init_train_state  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", "configs/paper.py", "Config file.")
_BATCH = flags.DEFINE_integer("batch", 2, "global batch of the lowered step (compile time hardly depends on it)")


def compile_seconds(config, scan: bool) -> tuple[float, float]:
    """(trace + lower, compile) seconds of the config's train step on one device."""
    for net in ("encoder", "idm", "predictor"):
        config.model[net]["scan"] = scan
    wm_cfg = validate(config)
    mesh = make_mesh(data=1)
    compiled = compiled_train_step(wm_cfg, FrozenConfigDict(config.train), mesh)
    params = jax.eval_shape(compiled.wm.init, jax.random.key(0))
    state = jax.eval_shape(functools.partial(init_train_state, compiled.wm, compiled.tx), params)
    video = {"video": jax.ShapeDtypeStruct((_BATCH.value, wm_cfg.frames, *wm_cfg.image_size, 3), jnp.uint8)}
    t0 = time.perf_counter()
    lowered = compiled.step.lower(jax.random.key(0), state, params["encoder"], video)
    t1 = time.perf_counter()
    lowered.compile()
    return t1 - t0, time.perf_counter() - t1


def main(argv):
    del argv
    config = _CONFIG.value
    config.unlock()
    config.data.global_batch = _BATCH.value
    config.data.source = "shapes"  # no data is read; validation wants a usable source
    config.data.num_clips = max(config.data.num_clips, _BATCH.value)
    results = {scan: compile_seconds(config, scan) for scan in (False, True)}
    enc = config.model.encoder
    print(f"train step, encoder {enc['width']}x{enc['depth']}, predictor "
          f"{config.model.predictor['width']}x{config.model.predictor['depth']}, idm depth "
          f"{config.model.idm['depth']}, {config.data.frames} frames of {config.data.image_size}^2, "
          f"batch {_BATCH.value}, {jax.devices()[0].device_kind}")
    print("| layers | trace + lower (s) | compile (s) |")
    print("|---|---|---|")
    for scan, (lower, comp) in results.items():
        print(f"| {'scan' if scan else 'unrolled loop'} | {lower:.1f} | {comp:.1f} |")


if __name__ == "__main__":
    app.run(main)
