"""Planning metrics of the two protocols, in the data's units (numpy).

  delta_xyz  DROID (jepa-wms' plan_evaluator): |sum of planned - sum of ground-truth
             end-effector displacements|_1 over x, y, z, in metres.
  ate, rpe   RECON (NWM, after Sturm et al. 2012 / evo): ATE = RMSE of the position
             error along the trajectory, no alignment; RPE = RMSE of the translation of
             the relative-motion error between consecutive poses (delta = 1), SE(2).
"""
from __future__ import annotations

import numpy as np


def delta_xyz(planned_HA, true_HA) -> float:
    """Planned and true actions (H, A) whose first three dimensions are Δx, Δy, Δz."""
    planned, true = np.asarray(planned_HA, np.float64), np.asarray(true_HA, np.float64)
    return float(np.abs(planned[:, :3].sum(0) - true[:, :3].sum(0)).sum())


def ate(planned_poses, true_poses) -> float:
    """Poses (K, 3) = (x, y, yaw) at the same times; the first (the start) is shared."""
    err = np.asarray(planned_poses, np.float64)[1:, :2] - np.asarray(true_poses, np.float64)[1:, :2]
    return float(np.sqrt(np.mean(np.sum(err**2, axis=-1))))


def _se2(pose) -> np.ndarray:
    x, y, yaw = pose
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, x], [s, c, y], [0.0, 0.0, 1.0]])


def rpe(planned_poses, true_poses) -> float:
    """Translation RMSE of E_i = (Q_i^-1 Q_{i+1})^-1 (P_i^-1 P_{i+1}) over consecutive
    poses: P planned, Q true."""
    p = [_se2(x) for x in np.asarray(planned_poses, np.float64)]
    q = [_se2(x) for x in np.asarray(true_poses, np.float64)]
    errs = []
    for i in range(len(p) - 1):
        rel_p = np.linalg.inv(p[i]) @ p[i + 1]
        rel_q = np.linalg.inv(q[i]) @ q[i + 1]
        errs.append(np.sum((np.linalg.inv(rel_q) @ rel_p)[:2, 2] ** 2))
    return float(np.sqrt(np.mean(errs)))
