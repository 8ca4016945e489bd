"""Capacity: one-step prediction error with IDM-inferred latents (paper §5, Fig. 4).

The IDM sees the future frame, so this is an upper bound on what any later use of the
latents can achieve; lower error = more information passes through the bottleneck.
Reported beside the copy-the-last-state (and, in pixels, copy-the-last-frame) reference,
which needs no model. `model` is anything with encode / infer_actions / predict (a
LoadedWorldModel); `decode` (states -> frames in [0, 1]) adds pixel metrics.
"""
from __future__ import annotations

import functools

import jax
import numpy as np

from lawm_jax.eval import scoring
from lawm_jax.objective import lam_loss
from lawm_jax.world_model import WorldModel


def one_step(model, video, decode=None, lpips_params=None, decoder_floor: bool = False) -> dict:
    """Per-transition errors of a batch of clips: {"model": {metric: (B, T-1)},
    "copy_last": {...}} and, with a decoder and `decoder_floor`, "decoded_real": the real
    states decoded (the decoder's own error, a floor for every decoded prediction).
    Transition t predicts step t+1."""
    states = model.encode(video)
    z = model.infer_actions(states)
    preds = model.predict(states[:, :-1], z)
    q = video.shape[1] // states.shape[1]
    t = states.shape[1]
    decoded = scoring.decode_one_step(decode, states, preds) if decode is not None else None
    frames = scoring.step_frames(video, 1, t, q)
    out = {"model": scoring.score(preds, states[:, 1:], decoded, frames, q, lpips_params),
           "copy_last": scoring.score(states[:, :-1], states[:, 1:])}
    if decode is not None:
        out["copy_last"].update(scoring.copy_last_pixels(video, 1, t, q, lpips_params))
    if decode is not None and decoder_floor:
        out["decoded_real"] = scoring.pixel_errors(decode(states)[:, q:], frames, q, lpips_params)
    out["z"] = np.asarray(z).reshape(-1, z.shape[-1])
    return out


def latent_stats(z) -> dict[str, float]:
    """What the codes look like, latents z (M, D) (the IDM's; noisy: the means):
    l1_norm, l2_norm  mean norms of a latent;
    participation     (|z|_1 / |z|_2)^2, from 1 (one dimension carries the code) to D (all alike);
    near_zero         the share of a latent's entries under 5% of its largest;
    active_dims       dimensions whose spread over latents is at least 1% of the widest's."""
    z = np.asarray(z, np.float64)
    l1, l2 = np.abs(z).sum(1), np.linalg.norm(z, axis=1)
    peak = np.abs(z).max(1, keepdims=True)
    spread = z.std(0)
    live = l2 > 0
    return {"l1_norm": float(l1.mean()), "l2_norm": float(l2.mean()),
            "participation": float(np.mean((l1[live] / l2[live]) ** 2)) if live.any() else 0.0,
            "near_zero": float(np.mean(np.abs(z[live]) < 0.05 * peak[live])) if live.any() else 1.0,
            "active_dims": int(np.sum(spread >= 0.01 * spread.max())) if spread.max() > 0 else 0}


def capacity(model, video, batch_size: int = 16, decode=None, lpips_params=None) -> dict:
    """Mean one-step errors over held-out clips (M, F, H, W, C):
    {"model": {metric: value}, "copy_last": {...}, ["decoded_real": {...},] "clips": M,
    "latents": latent_stats of the IDM's latents}."""
    parts = [one_step(model, video[i:i + batch_size], decode, lpips_params, decoder_floor=True)
             for i in range(0, len(video), batch_size)]
    z = np.concatenate([p.pop("z") for p in parts])
    return {name: {k: float(v.mean()) for k, v in scoring.mean_rows([p[name] for p in parts]).items()}
            for name in parts[0]} | {"clips": int(len(video)), "latents": latent_stats(z)}


@functools.partial(jax.jit, static_argnums=0)
def _batch_errors(wm: WorldModel, params, video):
    states = wm.encode(params, video)
    _, aux = lam_loss(wm, params, states, jax.random.key(0), train=False)
    copy = scoring.state_errors(states[:, :-1], states[:, 1:]).mean()
    return aux["metrics"]["pred_l1"], copy


def one_step_error(wm: WorldModel, params, video, batch_size: int = 64) -> dict[str, float]:
    """Mean representation L1 over clips (uint8 video (M, F, H, W, C)), in batches, from
    the pure model and its parameters (what training reports as pred_l1)."""
    pred, copy, weights = [], [], []
    for i in range(0, len(video), batch_size):
        p, c = _batch_errors(wm, params, video[i:i + batch_size])
        pred.append(float(p))
        copy.append(float(c))
        weights.append(len(video[i:i + batch_size]))
    return {"pred_l1": float(np.average(pred, weights=weights)),
            "copy_last_l1": float(np.average(copy, weights=weights))}
