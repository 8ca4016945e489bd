"""How much of the true motion a latent action carries: a linear probe's R^2.

Video from the wild never says what moved; the scenes source (data/scenes.py) records it.
A ridge regression from the IDM's latent of each transition to the recorded motion of
that transition (camera pan, zoom, turn; each agent's velocity), fitted on some clips and
scored on others, measures how much of that motion the latent carries in a linearly
readable form: 1 all of it, 0 none (the deterministic model's all-zero latent).
"""
from __future__ import annotations

import numpy as np


def probe_r2(x_fit, y_fit, x_test, y_test, ridge: float = 1e-3) -> float:
    """R^2 on (x_test, y_test) of the ridge regression y ~ x fitted on (x_fit, y_fit), with
    an intercept; pooled over the outputs: 1 - sum of squared errors / sum of squares about
    the fitted data's mean. Rows are samples."""
    x_fit, x_test = np.asarray(x_fit, np.float64), np.asarray(x_test, np.float64)
    y_fit, y_test = np.asarray(y_fit, np.float64), np.asarray(y_test, np.float64)
    mx, my = x_fit.mean(0), y_fit.mean(0)
    xc = x_fit - mx
    scale = max(float(np.trace(xc.T @ xc)) / max(xc.shape[1], 1), 1e-12)  # ridge relative to the data's size
    w = np.linalg.solve(xc.T @ xc + ridge * scale * np.eye(xc.shape[1]), xc.T @ (y_fit - my))
    residual = y_test - (my + (x_test - mx) @ w)
    total = np.sum((y_test - my) ** 2)
    return float(1 - np.sum(residual ** 2) / total) if total > 0 else 0.0
