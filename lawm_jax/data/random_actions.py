"""The simulators' random actions, in a module of their own: the simulators import it,
and data/trajectories.py imports the simulators."""
from __future__ import annotations

import numpy as np


def smooth_actions(rng: np.random.Generator, length: int, scale, correlation: float = 0.8,
                   mean=0.0) -> np.ndarray:
    """Random but smooth actions (length, A): an AR(1) process with stationary std `scale`.

    Consecutive actions have correlation `correlation`, so motions last a few steps, as a
    teleoperated arm's or a driven robot's do, instead of jittering.
    """
    scale, mean = np.asarray(scale, np.float64), np.asarray(mean, np.float64)
    noise = rng.standard_normal((length, scale.size))
    out = np.empty_like(noise)
    out[0] = noise[0]
    for t in range(1, length):
        out[t] = correlation * out[t - 1] + np.sqrt(1 - correlation**2) * noise[t]
    return (mean + scale * out).astype(np.float32)
