"""How much of the true motion a latent action carries: a linear probe's R^2.

Video from the wild never says what moved; the scenes source (data/scenes.py) records it.
A ridge regression from the IDM's latent of each transition to the recorded motion of
that transition (camera pan, zoom, turn; each agent's velocity), fitted on some clips and
scored on others, measures how much of that motion the latent carries in a linearly
readable form: 1 all of it, 0 none (the deterministic model's all-zero latent).
"""
from __future__ import annotations

import numpy as np


RIDGES = (1e-3, 1e-2, 1e-1, 1.0, 10.0)  # relative to the features' mean variance


def _fit(x, y, ridge):
    mx, my = x.mean(0), y.mean(0)
    xc = x - mx
    scale = max(float(np.trace(xc.T @ xc)) / max(xc.shape[1], 1), 1e-12)
    w = np.linalg.solve(xc.T @ xc + ridge * scale * np.eye(xc.shape[1]), xc.T @ (y - my))
    return lambda xt: my + (xt - mx) @ w


def _r2(pred, y, mean) -> float:
    total = np.sum((y - mean) ** 2)
    return float(1 - np.sum((y - pred) ** 2) / total) if total > 0 else 0.0


def probe_r2(x_fit, y_fit, x_test, y_test, ridge: float | None = None) -> float:
    """R^2 on (x_test, y_test) of the ridge regression y ~ x fitted on (x_fit, y_fit), with
    an intercept; pooled over the outputs: 1 - sum of squared errors / sum of squares about
    the fitted data's mean. Rows are samples. `ridge` None: the strength of RIDGES that
    scores best on the last quarter of the fitted rows when fitted on the rest, so that
    features that carry nothing give R^2 near 0, not an overfitted negative."""
    x_fit, x_test = np.asarray(x_fit, np.float64), np.asarray(x_test, np.float64)
    y_fit, y_test = np.asarray(y_fit, np.float64), np.asarray(y_test, np.float64)
    if ridge is None:
        cut = len(x_fit) * 3 // 4
        ridge = max(RIDGES, key=lambda r: _r2(_fit(x_fit[:cut], y_fit[:cut], r)(x_fit[cut:]), y_fit[cut:],
                                               y_fit[:cut].mean(0)))
    return _r2(_fit(x_fit, y_fit, ridge)(x_test), y_test, y_fit.mean(0))


def motion_r2(z, change, motion: dict, components: int = 64, carried: int = 8) -> dict:
    """The probes of a model's held-out transitions, fitted on the first half of the rows
    and scored on the second: from the latents z (N, D) to each recorded motion part
    ({"camera": (N, k), "agents": (N, k)}; parts that never move are left out), and, as
    the encoder's ceiling, from the state change (N, S) itself (its top `components`
    principal components; "state change -> camera", ...): a latent cannot carry linearly
    what the states do not; and from the latent to the state change's top `carried`
    components ("state change": what it carries instead)."""
    z = np.asarray(z, np.float64)
    change = np.asarray(change, np.float64)
    change = change - change.mean(0)
    change = change @ np.linalg.svd(change, full_matrices=False)[2][:components].T
    half = len(z) // 2
    out = {"state change": probe_r2(z[:half], change[:half, :carried], z[half:], change[half:, :carried])}
    for part, y in motion.items():
        if not np.any(y):
            continue  # nothing of this kind moves in these scenes
        out[part] = probe_r2(z[:half], y[:half], z[half:], y[half:])
        out[f"state change -> {part}"] = probe_r2(change[:half], y[:half], change[half:], y[half:])
    return out
