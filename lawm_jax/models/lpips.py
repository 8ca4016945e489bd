"""LPIPS (Zhang et al. 2018) on a VGG16 backbone: the perceptual loss and metric.

    params = load_lpips("/weights/lpips_vgg.npz")       # tools/convert_lpips.py writes it
    d = lpips_distance(params, frames_a, frames_b)       # (..., H, W, 3) in [0, 1] -> (...)

The pretrained weights cannot be downloaded at run time, so they come from a file in
this format (one .npz, float32 arrays, flax layouts):
    vgg/conv{s}_{j}/kernel  (3, 3, C_in, C_out)  the 13 convolutions of VGG16, stage s =
    vgg/conv{s}_{j}/bias    (C_out,)             1..5, conv j within the stage
    lin/{k}                 (C_k,)               non-negative per-channel weights of the
                                                 five taps (relu1_2 ... relu5_3)
The distance, as the reference `lpips` package's v0.1 computes it: inputs scaled to
[-1, 1] then shifted and scaled per channel; at each tap the features are unit-normalised
over channels, their squared difference weighted by lin/{k} summed over channels and
averaged over positions; the five taps are summed.
"""
from __future__ import annotations

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

VGG16_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


class VGG16Features(nn.Module):
    """(B, H, W, 3) -> the five taps relu1_2, relu2_2, relu3_3, relu4_3, relu5_3."""

    @nn.compact
    def __call__(self, x):
        taps = []
        for s, stage in enumerate(VGG16_STAGES):
            if s:
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
            for j, channels in enumerate(stage):
                x = nn.relu(nn.Conv(channels, (3, 3), padding=1, name=f"conv{s + 1}_{j + 1}")(x))
            taps.append(x)
        return taps


def param_shapes() -> dict[str, tuple[int, ...]]:
    """Every array the weight file must hold, by its key."""
    shapes, c_in = {}, 3
    for s, stage in enumerate(VGG16_STAGES):
        for j, c in enumerate(stage):
            shapes[f"vgg/conv{s + 1}_{j + 1}/kernel"] = (3, 3, c_in, c)
            shapes[f"vgg/conv{s + 1}_{j + 1}/bias"] = (c,)
            c_in = c
        shapes[f"lin/{s}"] = (stage[-1],)
    return shapes


def _nest(flat: dict) -> dict:
    params = {"vgg": {}, "lin": []}
    for key, value in flat.items():
        parts = key.split("/")
        if parts[0] == "vgg":
            params["vgg"].setdefault(parts[1], {})[parts[2]] = jnp.asarray(value)
    params["lin"] = [jnp.asarray(flat[f"lin/{k}"]) for k in range(len(VGG16_STAGES))]
    return params


def random_params(rng) -> dict:
    """Random weights of the right shapes (for tests and benchmarks, never for metrics)."""
    keys = jax.random.split(rng, len(param_shapes()))
    flat = {}
    for key, (name, shape) in zip(keys, param_shapes().items()):
        if name.startswith("lin/"):
            flat[name] = jax.random.uniform(key, shape)
        else:
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            flat[name] = jax.random.normal(key, shape) * (np.sqrt(2 / fan_in) if len(shape) > 1 else 0.01)
    return _nest(flat)


def load_lpips(path: str) -> dict:
    """The LPIPS parameters from an .npz in the format above; every missing, extra or
    misshapen array is named."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"LPIPS weights {path} do not exist: write them with "
                                "tools/convert_lpips.py, or set config.lpips_weights='' for L1/PSNR/SSIM only")
    with np.load(path) as f:
        flat = {k: f[k] for k in f.files}
    want = param_shapes()
    problems = [f"{k}: missing" for k in want if k not in flat]
    problems += [f"{k}: unexpected" for k in flat if k not in want]
    problems += [f"{k}: shape {flat[k].shape}, expected {s}" for k, s in want.items()
                 if k in flat and tuple(flat[k].shape) != s]
    if problems:
        raise ValueError(f"{path} is not an LPIPS-VGG16 weight file ({len(problems)} problems: "
                         f"{'; '.join(problems[:6])}); see lawm_jax/models/lpips.py for the format")
    return _nest({k: v.astype(np.float32) for k, v in flat.items()})


def _unit(features, eps=1e-10):
    return features / (jnp.sqrt(jnp.sum(features ** 2, -1, keepdims=True)) + eps)


def lpips_distance(params, a, b):
    """Perceptual distance of images in [0, 1], (..., H, W, 3) each -> (...)."""
    lead = a.shape[:-3]
    shift, scale = jnp.asarray(SHIFT), jnp.asarray(SCALE)
    x = jnp.concatenate([a.reshape(-1, *a.shape[-3:]), b.reshape(-1, *b.shape[-3:])]).astype(jnp.float32)
    x = (2 * x - 1 - shift) / scale
    taps = VGG16Features().apply({"params": params["vgg"]}, x)
    n = x.shape[0] // 2
    total = 0.0
    for feats, weight in zip(taps, params["lin"]):
        diff = (_unit(feats[:n]) - _unit(feats[n:])) ** 2
        total = total + jnp.mean(jnp.sum(diff * weight, -1), axis=(1, 2))
    return total.reshape(lead)
