"""planning_table.py's statistics on made-up plan results (no training): paired
differences over seeds, the capacity pairs and the claims. In a fresh process, as
test_common: the script defines absl flags."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHECKS = r'''
import numpy as np
import pytest
import planning_table as pt

RANDOM, ZERO = np.array([0.30, 0.20, 0.25, 0.35]), np.array([0.20, 0.22, 0.18, 0.24])
LAM = {("noisy", 0): [0.10, 0.12, 0.08, 0.11], ("noisy", 1): [0.12, 0.10, 0.09, 0.13],
       ("noisy_0.01", 0): [0.30, 0.25, 0.28, 0.33]}
BASE = {0: [0.09, 0.10, 0.07, 0.10], 1: [0.08, 0.11, 0.08, 0.09]}


def method(values):
    v = np.asarray(values)
    return {"final_distance": v.mean(), "final_distance_std": v.std(), "per_episode": {"final_distance": list(v)},
            "seconds_per_plan": 1.0}


def summary(label, seed, coef):
    return {"headline": "final_distance", "episodes": 4, "lam": label, "seed": seed, "kind": "noisy",
            "coefficient": coef, "methods": {"random": method(RANDOM), "zero": method(ZERO),
                                             "lam": method(LAM[label, seed]), "action_conditioned": method(BASE[seed])}}


results = {"noisy": summary("noisy", 0, 1e-4), "noisy_seed1": summary("noisy", 1, 1e-4),
           "noisy_0.01": summary("noisy_0.01", 0, 0.01)}
text, numbers = pt.report(results, "metaworld:reach", "closed_loop")
row = numbers["LAM (noisy) + controller"]
diff = (np.asarray(LAM["noisy", 0]) + np.asarray(LAM["noisy", 1])) / 2 - RANDOM  # the seeds' mean, per episode
assert row["seeds"] == [0, 1] and row["vs_random"] == pytest.approx((diff.mean(), diff.std(ddof=1) / 2))
assert row["seeds_vs_random"] == pytest.approx([np.mean(np.asarray(LAM["noisy", s]) - RANDOM) for s in (0, 1)])
assert row["over_baseline"] == pytest.approx(np.mean(list(LAM.values())[:2]) / np.mean(list(BASE.values())))
assert numbers["random"]["seeds"] == [0] and numbers["action_conditioned"]["seeds"] == [0, 1]
assert "| LAM (noisy) + controller | 2 |" in text and "| LAM (noisy_0.01) + controller | 1 |" in text
# Capacity: beta 1e-4 is the higher capacity; paired on the seed both have (0).
(higher, lower, d, e), = numbers["capacity"]
assert (higher, lower) == ("LAM (noisy) + controller", "LAM (noisy_0.01) + controller")
gap = np.asarray(LAM["noisy", 0]) - np.asarray(LAM["noisy_0.01", 0])
assert (d, e) == pytest.approx((gap.mean(), gap.std(ddof=1) / 2))
claims = {c[0]: c for c in pt.findings(numbers, "final_distance")}
assert claims["LAM (noisy) + controller beats random by >= 3 s.e. (final_distance, paired)"][2] == "yes"
assert claims["LAM (noisy_0.01) + controller beats zero by >= 3 s.e. (final_distance, paired)"][2] == "no"
assert claims["LAM (noisy) + controller within 1.5x of the baseline's final_distance"][1] == f"{row['over_baseline']:.2f}x"
assert claims["higher capacity plans better: LAM (noisy) + controller against LAM (noisy_0.01) + controller "
              "(>= 2 s.e., final_distance, paired)"][2] == "yes"
# The controllers' table: in LPIPS (the paper's ratio) when the rollouts were decoded, else in L1.
from lawm_jax.planning.controller_rollouts import METRICS, PIXEL_METRICS


def checked(pixels, scale):
    r = {k: 0.5 * scale for k in METRICS + (PIXEL_METRICS if pixels else ())}
    r.update({f"{k}_std": 0.0 for k in list(r)}, episodes=4, horizon=3, idm_rollout_l1=0.2, controller_rollout_l1=0.3)
    if pixels:
        r.update(idm_rollout_lpips=0.1 * scale, controller_rollout_lpips=0.12 * scale)
    return {"lam": "noisy", "controllers": {"attention": {"held-out": r}}}


both = pt.controller_report({"noisy": checked(True, 1.0), "noisy_seed1": checked(True, 2.0)})
assert "controller ÷ IDM rollout (lpips)" in both and "decoded_true_lpips" in both
assert "| LAM (noisy) | attention | held-out | 2 | " in both and both.rstrip().endswith("| 1.20 |")
plain = pt.controller_report({"noisy": checked(False, 1.0)})
assert "controller ÷ IDM rollout (l1)" in plain and "lpips" not in plain and plain.rstrip().endswith("| 1.50 |")
# Does the model know the right plan: per method over its seeds.
ranks = {"noisy": {"lam": "noisy", "truth_rank": {"lam": {"truth_rank": 0.2, "truth_rank_std": 0.1, "draws": 127},
                                                  "action_conditioned": {"truth_rank": 0.1, "truth_rank_std": 0.05,
                                                                         "draws": 127}}},
         "noisy_seed1": {"lam": "noisy", "truth_rank": {"lam": {"truth_rank": 0.4, "truth_rank_std": 0.1,
                                                                "draws": 127}}}}
text = pt.truth_report(ranks)
assert "| LAM (noisy) + controller | 2 | 0.300 ± 0.100 |" in text and "| action_conditioned | 1 | 0.100 ± 0.050 |" in text
assert "share of 127 random plans" in text
print("ok")
'''


def test_planning_table_statistics():
    done = subprocess.run([sys.executable, "-c", CHECKS], capture_output=True, text=True,
                          cwd=os.path.join(REPO, "experiments"))
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
