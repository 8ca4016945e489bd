"""Future leakage at scene cuts (paper §6, Table 1).

Splice the end of clip B onto the start of clip A (another video) at a step boundary:
the transition into the first step of B cannot be predicted from A's past. A latent
that only describes an action leaves the error there far above the error of the same
transition in the original clips; a latent that copies the next frame does not (ratio
near 1). The ratio is reported for the model and for copying the last state, which
knows nothing of the future (a lower bound on what an honest model's jump looks like
depends on the metric: report both).
"""
from __future__ import annotations

import numpy as np

from lawm_jax.errors import DataError
from lawm_jax.eval import scoring
from lawm_jax.eval.capacity import one_step


def splice(video_a, video_b, cut_frame: int):
    """Frames of A before `cut_frame`, then B's from there on (same clip length)."""
    return np.concatenate([video_a[:, :cut_frame], video_b[:, cut_frame:]], axis=1)


def partners(video_ids) -> np.ndarray:
    """For each clip, a clip of another video: the one half the list away that is not of
    the same video (the list is in video order, so this pairs distant videos)."""
    ids = np.asarray(video_ids)
    m = len(ids)
    if len(np.unique(ids)) < 2:
        raise DataError("splicing and transfer need clips of at least two videos; hold out more "
                        "videos (config.data.holdout), or evaluate on a folder of more videos "
                        "(config.eval.path; tools/visualize.py --data)")
    out = np.empty(m, int)
    for i in range(m):
        for shift in range(m // 2, m // 2 + m):
            j = (i + shift) % m
            if ids[j] != ids[i]:
                out[i] = j
                break
    return out


def leakage(model, video, video_ids, frames_per_step: int, cut_step: int | None = None, batch_size: int = 16,
            decode=None, lpips_params=None) -> dict:
    """Errors at the cut of spliced clips vs the same transition in the originals.

    cut_step: the first step taken from B (default: the middle step). Returns, for
    "model" and "copy_last", per metric: cut, no_cut (mean over A and B), ratio, and the
    mean spliced profile over all transitions (its peak should sit at the cut)."""
    t = video.shape[1] // frames_per_step
    cut_step = t // 2 if cut_step is None else cut_step
    if not 1 <= cut_step < t:
        raise ValueError(f"cut_step={cut_step} must be in [1, {t}) for clips of {t} steps")
    partner = partners(video_ids)
    spliced, a_rows, b_rows = [], [], []
    for i in range(0, len(video), batch_size):
        a = video[i:i + batch_size]
        b = video[partner[i:i + batch_size]]
        spliced.append(one_step(model, splice(a, b, cut_step * frames_per_step), decode, lpips_params))
        a_rows.append(one_step(model, a, decode, lpips_params))
        b_rows.append(one_step(model, b, decode, lpips_params))
    k = cut_step - 1  # transition k predicts step cut_step
    result = {"cut_step": cut_step, "pairs": int(len(video))}
    for name in ("model", "copy_last"):
        s = scoring.mean_rows([r[name] for r in spliced])
        a = scoring.mean_rows([r[name] for r in a_rows])
        b = scoring.mean_rows([r[name] for r in b_rows])
        result[name] = {}
        for metric in s:
            cut = float(s[metric][:, k].mean())
            no_cut = float(np.concatenate([a[metric][:, k], b[metric][:, k]]).mean())
            result[name][metric] = {"cut": cut, "no_cut": no_cut, "ratio": cut / no_cut if no_cut else float("inf"),
                                    "profile": s[metric].mean(0).tolist()}
    return result
