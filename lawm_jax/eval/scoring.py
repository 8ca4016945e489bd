"""Per-step errors of predicted states, in representation space and (with a pixel
decoder) in pixel space; shared by every evaluation.

Every function returns arrays of shape (B, K): one value per clip and predicted step,
so that evaluations can pick steps (the cut of a splice) or average over them.
Representation error is the mean absolute difference over tokens and channels (the
training loss's L1). Pixel metrics compare decoded frames with the real frames, in
[0, 1], averaged over the frames of each step: L1, PSNR, SSIM and (with LPIPS weights)
LPIPS.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from lawm_jax.models.pixel_metrics import psnr, ssim
from lawm_jax.models.lpips import lpips_distance


def state_errors(pred, target):
    """(B, K, N, D) x 2 -> (B, K) mean absolute error."""
    return jnp.mean(jnp.abs(jnp.asarray(pred, jnp.float32) - jnp.asarray(target, jnp.float32)), axis=(-2, -1))


@jax.jit
def _pixel_metrics(pred, true, lpips_params):
    pred = jnp.clip(pred, 0.0, 1.0)
    out = {"pixel_l1": jnp.mean(jnp.abs(pred - true), axis=(-3, -2, -1)), "psnr": psnr(pred, true),
           "ssim": ssim(pred, true)}
    if lpips_params is not None:
        out["lpips"] = lpips_distance(lpips_params, pred, true)
    return out


def pixel_errors(frames_pred, frames_true, frames_per_step: int, lpips_params=None) -> dict:
    """Decoded (B, K*q, H, W, C) in [0, 1] vs real frames (uint8 or [0, 1]) -> metric -> (B, K)."""
    true = jnp.asarray(frames_true)
    true = true.astype(jnp.float32) / 255.0 if true.dtype == jnp.uint8 else true.astype(jnp.float32)
    per_frame = _pixel_metrics(jnp.asarray(frames_pred, jnp.float32), true, lpips_params)
    b, f = true.shape[:2]
    return {k: np.asarray(v).reshape(b, f // frames_per_step, frames_per_step).mean(-1)
            for k, v in per_frame.items()}


def step_frames(video, start: int, stop: int, frames_per_step: int):
    """The frames of steps start..stop-1 of a (B, F, ...) clip."""
    return video[:, start * frames_per_step:stop * frames_per_step]


def decode_one_step(decode: Callable, states, preds):
    """Frames of each one-step prediction, decoded after its real context: step t's
    frames come from decode([s_0 .. s_{t-1}, pred_t]), so that no prediction is decoded
    after another's error. states (B, T, N, D), preds (B, T-1, N, D) -> (B, (T-1)*q, ...)."""
    t = states.shape[1]
    frames = []
    for k in range(1, t):
        seq = jnp.concatenate([states[:, :k], preds[:, k - 1:k]], axis=1)
        out = decode(seq)
        frames.append(out[:, -(out.shape[1] // (k + 1)):])  # the last step's frames
    return jnp.concatenate(frames, axis=1)


def score(pred_states, true_states, decoded=None, video=None, frames_per_step: int = 1,
          lpips_params=None) -> dict:
    """{"repr_l1": (B, K), and with decoded frames and the real `video` frames of the same
    steps, the pixel metrics}."""
    out = {"repr_l1": np.asarray(state_errors(pred_states, true_states))}
    if decoded is not None:
        out.update(pixel_errors(decoded, video, frames_per_step, lpips_params))
    return out


def copy_last_pixels(video, start: int, stop: int, frames_per_step: int, lpips_params=None) -> dict:
    """Pixel metrics of copying the last real frame of step t-1 for every frame of step t,
    for steps start..stop-1 (the model-free reference)."""
    q = frames_per_step
    prev = video[:, (start - 1) * q + q - 1:(stop - 1) * q:q]            # last frame of each previous step
    copied = jnp.repeat(jnp.asarray(prev, jnp.float32) / 255.0, q, axis=1)
    return pixel_errors(copied, step_frames(video, start, stop, q), q, lpips_params)


def mean_rows(parts: list[dict]) -> dict:
    """Concatenates per-batch {metric: (B, K)} along the clips."""
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
