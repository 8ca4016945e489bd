"""The controller's fidelity and timidity (Tables S1/S2 left) on the session's tiny arm runs."""
import dataclasses

import jax
import numpy as np
import pytest

from lawm_jax.api import load_controller
from lawm_jax.data.trajectories import normalize_actions, read_trajectories
from lawm_jax.models import lpips
from lawm_jax.planning.controller_rollouts import METRICS, PIXEL_METRICS, controller_rollouts
from lawm_jax.planning.protocols import sample_episodes
from tests.helpers import random_decoder


def scaled(ctrl, k: float):
    """The controller with its output layer times k: its latents are k times the original's."""
    params = dict(ctrl.params)
    params["head"] = jax.tree.map(lambda x: x * k, params["head"])
    return dataclasses.replace(ctrl, params=params)


def test_controller_rollouts_against_the_public_api(arm_runs):
    """Every metric of one episode by hand, through LoadedWorldModel / LoadedController /
    LoadedDecoder's own calls; with a decoder and LPIPS weights, the paper's LPIPS columns."""
    _, test, runs = arm_runs
    ctrl = load_controller(runs["ctrl"])
    decoder, lpips_params = random_decoder(ctrl.world_model), lpips.random_params(jax.random.key(1), "alex")
    out = controller_rollouts(ctrl, test, episodes=3, horizon=3, seed=0, decoder=decoder, lpips_params=lpips_params)
    assert out["episodes"] == 3 and set(out["per_episode"]) == set(METRICS) | set(PIXEL_METRICS)
    assert all(len(v) == 3 and np.all(np.isfinite(v)) for v in out["per_episode"].values())
    # One episode by hand, through LoadedWorldModel / LoadedController's own calls.
    model = ctrl.world_model
    meta, _ = read_trajectories(test)
    ep = sample_episodes(test, 3, 3, 0, meta["image_size"], meta["fps"], model.wm.config.encoder.frames_per_step())[2]
    states = np.asarray(model.encode(ep["video"][None]))
    z = np.asarray(model.infer_actions(states))[0]
    c = np.asarray(ctrl.latents(states[0, :-1], normalize_actions(ep["actions"], ctrl.action_stats)))
    assert out["per_episode"]["rel_error"][2] == pytest.approx(np.sum((c - z) ** 2) / np.sum(z * z), rel=1e-4)
    assert out["per_episode"]["gain"][2] == pytest.approx(np.sum(c * z) / np.sum(z * z), rel=1e-4, abs=1e-6)
    idm = np.asarray(model.rollout(states[:, :1], z[None]))[0]  # the IDM's latents, given
    assert out["per_episode"]["idm_rollout_l1"][2] == pytest.approx(np.abs(idm - states[0, 1:]).mean(), rel=1e-4)
    assert out["per_episode"]["copy_l1"][2] == pytest.approx(np.abs(states[0, :1] - states[0, 1:]).mean(), rel=1e-5)
    q = model.wm.config.encoder.frames_per_step()
    frames = ep["video"][None, q:].astype(np.float32) / 255
    for key, decoded in (("idm_rollout_lpips", idm[None]), ("decoded_true_lpips", states[:, 1:])):
        by_hand = lpips.lpips_distance(lpips_params, np.clip(decoder.decode(decoded), 0, 1), frames).mean()
        assert out["per_episode"][key][2] == pytest.approx(float(by_hand), rel=1e-4)
    assert out["per_episode"]["idm_rollout_lpips"] != out["per_episode"]["decoded_true_lpips"]


def test_a_timid_controller_reads_as_timid(arm_runs):
    """Scaling the controller's latents scales its gain and norm ratio; zero latents are no
    better than zero (relative error 1, gain 0, no movement beyond the zero-latent rollout)."""
    _, test, runs = arm_runs
    ctrl = load_controller(runs["ctrl"])
    one = controller_rollouts(ctrl, test, episodes=2, horizon=3, seed=0)
    half = controller_rollouts(scaled(ctrl, 0.5), test, episodes=2, horizon=3, seed=0)
    zero = controller_rollouts(scaled(ctrl, 0.0), test, episodes=2, horizon=3, seed=0)
    assert set(one["per_episode"]) == set(METRICS)  # no decoder: no pixel columns
    assert half["gain"] == pytest.approx(one["gain"] / 2, rel=1e-3, abs=1e-6)
    assert half["norm_ratio"] == pytest.approx(one["norm_ratio"] / 2, rel=1e-3)
    assert zero["rel_error"] == pytest.approx(1.0) and zero["gain"] == 0 and zero["norm_ratio"] == 0
    assert half["idm_rollout_l1"] == pytest.approx(one["idm_rollout_l1"])  # the IDM's side is untouched

