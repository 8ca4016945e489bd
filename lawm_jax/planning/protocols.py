"""The two planning protocols (paper §7, App. A) on held-out action-labelled trajectories.

  droid  fixed camera (the arm simulator): episodes of H+1 frames, the last one the goal;
         CEM (H=3, 300 samples, 10 elites, 15 iterations); metric Δxyz (metres) between
         the summed planned and summed true end-effector displacements.
  recon  moving camera (the camera simulator): the goal H=8 steps ahead; straight-line
         plans (one action repeated), 120 samples, 1 iteration; ATE and RPE (metres) of
         the poses the plan visits against the true ones.

Every method returns a plan in the data's units for the same episodes and keys: the
world models (the LAM through its controller, the LAM planned in latent-action space and
grounded through the controller, the action-conditioned baseline), and two references
that need no model: `random` (actions drawn from the data's per-dimension
Gaussian, clipped to its range) and `zero` (no movement).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from lawm_jax.data.sim_camera import integrate_poses
from lawm_jax.data.trajectories import denormalize_actions, normalize_actions, trajectory_windows
from lawm_jax.planning import metrics
from lawm_jax.planning.cem import CEMConfig
from lawm_jax.planning.planner import LatentGrounding, WorldModelPlanner

HEADLINE = {"droid": "delta_xyz", "recon": "rpe"}  # each protocol and its headline metric
PROTOCOLS = tuple(HEADLINE)


@dataclasses.dataclass
class Method:
    name: str
    plan: Callable  # (key, episode) -> planned actions (H, A) in the data's units
    # (episode, planned actions) -> the states (H, N, D) the model predicts the plan passes
    # through from the episode's first frame (None: a reference that has no model)
    imagine: Callable | None = None
    # (episode, plans (S, H, A) in the data's units) -> the planner's costs (S,)
    score: Callable | None = None


def sample_episodes(path: str, count: int, horizon: int, seed: int, size: int, fps: float,
                    repeat: int = 1) -> list[dict]:
    """`count` windows of horizon + 1 frames drawn at random (with replacement if there
    are fewer) from a trajectory folder; frames repeated `repeat` times (one state each)."""
    windows = trajectory_windows(path, horizon + 1, size, fps, repeat=repeat)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(windows), count, replace=count > len(windows))
    return [windows[int(i)] for i in picks]


def reference_methods(stats: dict, straight_line: bool) -> list[Method]:
    """`random` and `zero`, which need no model."""
    mean, std = np.asarray(stats["mean"], np.float32), np.asarray(stats["std"], np.float32)
    low, high = np.asarray(stats["low"], np.float32), np.asarray(stats["high"], np.float32)

    def random_plan(key, episode):
        h = len(episode["actions"])
        draw = jax.random.normal(key, (1 if straight_line else h, len(mean)))
        return np.broadcast_to(np.clip(mean + std * np.asarray(draw), low, high), (h, len(mean)))

    return [Method("random", random_plan), Method("zero", lambda key, ep: np.zeros_like(ep["actions"]))]


def context_and_goal(model, video):
    """An episode's context state (1, N, D), its first frame, and goal state (N, D), its
    last frame encoded alone (frames_per_step frames each)."""
    q = model.wm.config.encoder.frames_per_step()
    return model.encode(video[None, :q])[0], model.encode(video[None, -q:])[0, 0]


def world_model_method(name: str, model, stats: dict, cem_cfg: CEMConfig, drive: str, controller=None,
                       controller_params=None, metric: str = "l2") -> Method:
    """CEM through `model` (a LoadedWorldModel) in normalised action units, clipped to the
    data's range; the plan comes back in the data's units."""
    action_dim = len(stats["mean"])
    cem_cfg = dataclasses.replace(cem_cfg, low=tuple(normalize_actions(stats["low"], stats).tolist()),
                                  high=tuple(normalize_actions(stats["high"], stats).tolist()))
    planner = WorldModelPlanner(model.wm, cem_cfg, action_dim, drive, controller, metric)

    def plan(key, episode):
        context, goal = context_and_goal(model, episode["video"])
        result = planner(key, model.params, controller_params, context, goal)
        return denormalize_actions(np.asarray(result.plan), stats)

    cost = jax.jit(planner.cost)

    def score(episode, plans_SHA):
        context, goal = context_and_goal(model, episode["video"])
        plans = jnp.asarray(normalize_actions(np.asarray(plans_SHA), stats), jnp.float32)
        return np.asarray(cost(plans, model.params, controller_params, context, goal))

    return Method(name, plan, imagination(model, planner, stats, controller_params), score)


def imagination(model, planner: WorldModelPlanner, stats: dict, controller_params) -> Callable:
    """Method.imagine through `planner`'s model and drive, for plans in the data's units."""
    rollout = jax.jit(planner.rollout)

    def imagine(episode, planned_HA):
        context, _ = context_and_goal(model, episode["video"])
        plans = jnp.asarray(normalize_actions(np.asarray(planned_HA), stats), jnp.float32)[None]
        return np.asarray(rollout(plans, model.params, controller_params, context))[0]

    return imagine


def truth_rank(method: Method, random: Method, episodes: list[dict], draws: int, seed: int) -> dict:
    """How well a model's planning cost knows the right plan: per episode, the share of
    `draws` plans of the `random` reference that `method.score` scores below the
    episode's true actions, ties counted half (0: the truth beats every random plan; 0.5:
    the cost cannot tell them apart). Its mean, std and per-episode values."""
    keys = jax.random.split(jax.random.key(seed), len(episodes))
    ranks = []
    for key, episode in zip(keys, episodes):
        plans = np.stack([episode["actions"]] + [random.plan(k, episode) for k in jax.random.split(key, draws)])
        costs = method.score(episode, plans)
        ranks.append(float(np.mean(costs[1:] < costs[0]) + 0.5 * np.mean(costs[1:] == costs[0])))  # ties: half
    return {"truth_rank": float(np.mean(ranks)), "truth_rank_std": float(np.std(ranks)), "draws": draws,
            "per_episode": ranks}


def latent_space_method(name: str, model, stats: dict, cem_cfg: CEMConfig, controller, controller_params,
                        metric: str = "l2", prior_std: float = 1.0) -> Method:
    """CEM over latent-action sequences themselves (the paper's open problem), from the
    prior N(0, prior_std^2 I) (the noisy model's is N(0, I)), unclipped; the latent plan is
    then grounded into real actions through the controller (LatentGrounding), clipped to
    the data's range, and comes back in the data's units."""
    latent_dim = model.wm.config.bottleneck.latent_dim
    planner = WorldModelPlanner(model.wm, dataclasses.replace(cem_cfg, init_mean=0.0, init_std=prior_std, low=None,
                                                              high=None), latent_dim, "latent", metric=metric)
    bounds = dict(low=tuple(normalize_actions(stats["low"], stats).tolist()),
                  high=tuple(normalize_actions(stats["high"], stats).tolist()))
    grounding = LatentGrounding(model.wm, controller, dataclasses.replace(cem_cfg, **bounds), len(stats["mean"]))

    def plan(key, episode):
        context, goal = context_and_goal(model, episode["video"])
        plan_key, ground_key = jax.random.split(key)
        latents = planner(plan_key, model.params, None, context, goal).plan
        actions = grounding(ground_key, model.params, controller_params, context, latents)
        return denormalize_actions(np.asarray(actions), stats)

    # What the grounded actions lead to through the controller (the latent plan itself is
    # the planner's intent; the actions are what acts).
    through_controller = WorldModelPlanner(model.wm, cem_cfg, len(stats["mean"]), "controller", controller, metric)
    return Method(name, plan, imagination(model, through_controller, stats, controller_params))


def score(protocol: str, episode: dict, planned_HA) -> dict:
    """The protocol's metrics of one planned action sequence."""
    if protocol == "droid":
        return {"delta_xyz": metrics.delta_xyz(planned_HA, episode["actions"])}
    if protocol == "recon":
        states = episode["states"]
        poses = integrate_poses(states[0], planned_HA)
        return {"ate": metrics.ate(poses, states), "rpe": metrics.rpe(poses, states)}
    raise ValueError(f"protocol {protocol!r}: choose one of {PROTOCOLS}")


def true_path(protocol: str, episode: dict) -> np.ndarray:
    """(H+1, 2) x-y path of the episode: end-effector displacement from the start (droid,
    the summed actions) or the recorded camera positions (recon)."""
    if protocol == "droid":
        return planned_path(protocol, episode, episode["actions"])
    return episode["states"][:, :2]


def planned_path(protocol: str, episode: dict, planned_HA) -> np.ndarray:
    """(H+1, 2) x-y path a plan leads to from the episode's start, as true_path draws it."""
    if protocol == "droid":
        return np.concatenate([np.zeros((1, 2)), np.cumsum(np.asarray(planned_HA)[:, :2], axis=0)])
    return integrate_poses(episode["states"][0], planned_HA)[:, :2]


def run_protocol(protocol: str, methods: list[Method], episodes: list[dict], seed: int, progress=None) -> dict:
    """Every method on every episode (the same key per episode for all). Returns
    {method: {metric: mean, metric + "_std", "per_episode": {metric: [...]},
    "seconds_per_plan": median wall time of a plan after the first (compiling) one,
    "paths": [(H+1, 2) per episode]}} and "true_paths"."""
    keys = jax.random.split(jax.random.key(seed), len(episodes))
    out = {"true_paths": [true_path(protocol, ep) for ep in episodes]}
    for m, method in enumerate(methods):
        rows, times, paths = [], [], []
        for e, episode in enumerate(episodes):
            t0 = time.perf_counter()
            planned = np.asarray(method.plan(keys[e], episode))
            times.append(time.perf_counter() - t0)
            rows.append(score(protocol, episode, planned))
            paths.append(planned_path(protocol, episode, planned))
            if progress:
                progress(m * len(episodes) + e + 1, len(methods) * len(episodes))
        out[method.name] = {**summarise(rows, times), "paths": paths}
    return out


def summarise(rows: list[dict], seconds: list[float]) -> dict:
    """One method's episodes ({metric: value} each) and planning times: each metric's mean
    and std over episodes, the per-episode values, and the median seconds per plan after
    the first (compiling) one."""
    names = list(rows[0])
    return {**{k: float(np.mean([r[k] for r in rows])) for k in names},
            **{f"{k}_std": float(np.std([r[k] for r in rows])) for k in names},
            "per_episode": {k: [r[k] for r in rows] for k in names},
            "seconds_per_plan": float(np.median(seconds[1:] if len(seconds) > 1 else seconds))}
