"""Cycle-consistency transfer of latent actions across videos (paper §6, Table 2).

1. infer A's latents with the IDM;  2. roll them out from B's context;
3. re-infer latents on that predicted B;  4. roll those out from A's context.
"original" is A's rollout with its own latents, "transfer" with the cycled ones, both
against A's real states over the clip's remaining steps (the paper: 2 s). Latents that
describe a transferable action survive the trip through another video at a modest
cost; latents that encode A's frames (or nothing) do not.
`model` needs encode / infer_actions / rollout (a LoadedWorldModel).
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from lawm_jax.errors import ConfigError
from lawm_jax.eval import scoring
from lawm_jax.eval.leakage import partners


def cycle(model, states_a, states_b, context: int = 1):
    """Rollouts of A (original, transferred) and B driven by A's latents; each (B, H, N, D)
    with H = T - context."""
    z_a = model.infer_actions(states_a)[:, context - 1:]                 # drives steps context..T-1
    b_pred = model.rollout(states_b[:, :context], z_a)
    z_cycled = model.infer_actions(jnp.concatenate([states_b[:, :context], b_pred], axis=1))[:, context - 1:]
    a_original = model.rollout(states_a[:, :context], z_a)
    a_transfer = model.rollout(states_a[:, :context], z_cycled)
    return a_original, a_transfer, b_pred


def transfer_steps(seconds: float, fps: float, frames_per_step: int) -> int:
    """Steps a transfer predicts: `seconds` of video (the paper: 2 s) at `fps`, at least one."""
    return max(1, round(seconds * fps / frames_per_step))


def check_context(context: int, steps: int) -> None:
    """A rollout needs at least one real step and one to predict."""
    if not 1 <= context < steps:
        raise ConfigError(f"context={context} (config.eval.context; tools/visualize.py --context) must be in "
                          f"[1, {steps}) for clips of {steps} steps")


def transfer(model, video, video_ids, frames_per_step: int, context: int = 1, batch_size: int = 16,
             decode=None, lpips_params=None) -> dict:
    """Mean errors of the original and the transferred rollout of A (and copying A's last
    context state), per metric, with transfer / original ratios (pictures of the same
    rollouts: eval/pictures.py)."""
    t = video.shape[1] // frames_per_step
    check_context(context, t)
    partner = partners(video_ids)
    rows = {"original": [], "transfer": [], "copy_last": []}
    for i in range(0, len(video), batch_size):
        a, b = video[i:i + batch_size], video[partner[i:i + batch_size]]
        s_a, s_b = model.encode(a), model.encode(b)
        a_orig, a_trans, b_pred = cycle(model, s_a, s_b, context)
        truth = s_a[:, context:]
        frames = scoring.step_frames(a, context, t, frames_per_step)
        copy = jnp.repeat(s_a[:, context - 1:context], t - context, axis=1)
        decoded = {}
        q = frames_per_step
        for name, pred in (("original", a_orig), ("transfer", a_trans)):
            if decode is not None:
                decoded[name] = decode(jnp.concatenate([s_a[:, :context], pred], axis=1))[:, context * q:]
            rows[name].append(scoring.score(pred, truth, decoded.get(name), frames, frames_per_step, lpips_params))
        rows["copy_last"].append(scoring.score(copy, truth))
        if decode is not None:  # copying A's last context frame for every predicted frame
            last = a[:, context * q - 1:context * q].astype(np.float32) / 255.0
            rows["copy_last"][-1].update(scoring.pixel_errors(np.repeat(last, (t - context) * q, axis=1), frames,
                                                              q, lpips_params))
    out = {name: {k: float(v.mean()) for k, v in scoring.mean_rows(r).items()} for name, r in rows.items()}
    out["ratio"] = {k: out["transfer"][k] / out["original"][k] if out["original"][k] else float("inf")
                    for k in out["original"]}
    out.update(context_steps=context, predicted_steps=t - context, pairs=int(len(video)))
    return out
