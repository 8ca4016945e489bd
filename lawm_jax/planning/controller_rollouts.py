"""How faithful, and how timid, a controller is (paper Tables S1/S2 left, App. C).

On windows of H+1 frames of action-labelled trajectories, the LAM's IDM gives the latents
z_i of the true transitions and the controller its own, c(a_i, s_i), from the real
actions. Both drive the world model from the first state for H steps (the controller, as
in planning, from the states it predicts: c(a_i, s_hat_i)); each rollout is scored
against the true states. Per episode:

  rel_error         sum ||c - z||^2 / sum ||z||^2, teacher-forced (1: no better than 0)
  gain              sum <c, z> / sum ||z||^2: the controller's latents projected on the
                    IDM's; below 1 they are shrunk towards zero (timid)
  norm_ratio        sum ||c|| / sum ||z||
  idm_rollout_l1    mean |s_hat - s| over the H predicted states, IDM-driven
  controller_rollout_l1   the same, controller-driven (the paper's columns, here in
                    representation space: the simulators have no pixel decoder)
  copy_l1           mean |s_0 - s_i|: the error of predicting no change
  movement_ratio    |s_hat_H - s_0| controller-driven over IDM-driven (mean absolute
                    change of the last state): below 1, the controller moves less

With a pixel decoder of the same encoder (and LPIPS weights), also the paper's own
columns, in LPIPS of the decoded rollouts against the real frames (PIXEL_METRICS):

  idm_rollout_lpips, controller_rollout_lpips   mean over the H predicted frames
  decoded_true_lpips  the decoded true states against the frames: the decoder's own
                    error, below which no rollout can score
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from lawm_jax.data.trajectories import normalize_actions, read_trajectories
from lawm_jax.models.lpips import lpips_distance
from lawm_jax.planning.protocols import sample_episodes

METRICS = ("rel_error", "gain", "norm_ratio", "idm_rollout_l1", "controller_rollout_l1", "copy_l1",
           "movement_ratio")
PIXEL_METRICS = ("idm_rollout_lpips", "controller_rollout_lpips", "decoded_true_lpips")


@functools.lru_cache(maxsize=8)
def _rollouts(wm, controller, horizon: int):
    """A jitted (params, controller params, states (B, H+1, N, D), actions (B, H, A)) ->
    (IDM latents, teacher-forced controller latents, IDM rollout, controller rollout)."""

    def run(params, controller_params, states, actions):
        b, t, n, d = states.shape
        z = wm.infer_actions(params, states).z
        flat = controller.apply({"params": controller_params}, states[:, :-1].reshape(b * horizon, n, d),
                                actions.reshape(b * horizon, -1))
        c = flat.reshape(b, horizon, -1)
        idm = wm.rollout_driven(params, states[:, :1], horizon, lambda i, last: z[:, i])
        ctl = wm.rollout_driven(params, states[:, :1], horizon, lambda i, last: controller.apply(
            {"params": controller_params}, last, actions[:, i]))
        return z, c, idm, ctl

    return jax.jit(run)


@jax.jit
def _mean_lpips(lpips_params, decoded, frames):
    """Mean LPIPS over each clip's frames: decoded (B, F, H, W, C) in [0, 1] against uint8."""
    return lpips_distance(lpips_params, jnp.clip(decoded, 0.0, 1.0), frames.astype(jnp.float32) / 255.0).mean(-1)


def controller_rollouts(ctrl, path: str, episodes: int, horizon: int, seed: int, batch: int = 32,
                        decoder=None, lpips_params=None) -> dict:
    """METRICS of the LoadedController `ctrl` on `episodes` windows of horizon + 1 frames
    drawn from the trajectory folder `path` (seeded): each metric's mean and std over
    episodes, and the per-episode values; PIXEL_METRICS too when given a LoadedDecoder of
    the LAM's encoder and LPIPS parameters (models/lpips.py)."""
    model = ctrl.world_model
    q = model.wm.config.encoder.frames_per_step()
    meta, _ = read_trajectories(path)
    windows = sample_episodes(path, episodes, horizon, seed, meta["image_size"], meta["fps"], q)
    run = _rollouts(model.wm, ctrl.controller, horizon)
    pixels = decoder is not None and lpips_params is not None
    rows = {k: [] for k in METRICS + (PIXEL_METRICS if pixels else ())}
    for start in range(0, len(windows), batch):
        part = windows[start:start + batch]
        states = model.encode(np.stack([w["video"] for w in part]))
        actions = jnp.asarray(normalize_actions(np.stack([w["actions"] for w in part]), ctrl.action_stats),
                              jnp.float32)
        z, c, idm, ctl = (np.asarray(x, np.float64) for x in run(model.params, ctrl.params, states, actions))
        true = np.asarray(states, np.float64)
        zz = np.sum(z * z, axis=(1, 2))
        rows["rel_error"] += list(np.sum((c - z) ** 2, axis=(1, 2)) / zz)
        rows["gain"] += list(np.sum(c * z, axis=(1, 2)) / zz)
        rows["norm_ratio"] += list(np.linalg.norm(c, axis=-1).sum(1) / np.linalg.norm(z, axis=-1).sum(1))
        rows["idm_rollout_l1"] += list(np.abs(idm - true[:, 1:]).mean(axis=(1, 2, 3)))
        rows["controller_rollout_l1"] += list(np.abs(ctl - true[:, 1:]).mean(axis=(1, 2, 3)))
        rows["copy_l1"] += list(np.abs(true[:, :1] - true[:, 1:]).mean(axis=(1, 2, 3)))
        rows["movement_ratio"] += list(np.abs(ctl[:, -1] - true[:, 0]).mean(axis=(1, 2))
                                       / np.abs(idm[:, -1] - true[:, 0]).mean(axis=(1, 2)))
        if pixels:
            frames = np.stack([w["video"] for w in part])[:, q:]
            for name, rollout in (("idm", idm), ("controller", ctl), ("decoded_true", states[:, 1:])):
                decoded = decoder.decode(jnp.asarray(rollout, jnp.float32))
                key = f"{name}_lpips" if name == "decoded_true" else f"{name}_rollout_lpips"
                rows[key] += list(np.asarray(_mean_lpips(lpips_params, decoded, frames)))
    return {**{k: float(np.mean(v)) for k, v in rows.items()}, **{f"{k}_std": float(np.std(v)) for k, v in rows.items()},
            "episodes": len(windows), "horizon": horizon, "per_episode": {k: [float(x) for x in v]
                                                                          for k, v in rows.items()}}
