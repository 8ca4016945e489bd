"""Closed-loop planning in a simulator (model-predictive control), JEPA-WMs' Metaworld protocol.

Episode e, from episode_seed(seed, e) (never a generated trajectory's seed, so never a
training episode's start): the simulator starts; a goal is made by running the
episode's own actions for `goal_frames` frames from that start (Metaworld with
policy="scripted": the task's scripted policy, so the goal is a state the task wants;
the arm: random smooth actions), and its last frame is the goal image. The simulator
starts again from the same state; every `replan_every` frames each method plans
`horizon` actions from the current frame towards the goal image and the first
`replan_every` of them are executed, until `frames` frames have been executed.

Scores at the end: the end effector's distance to where it was in the goal (metres),
the object's (simulators that have one), and the simulator's own success criterion
(`success()`, Metaworld's) at the last frame. Methods are the offline protocols'
(`protocols.Method`): the plan of one call is (horizon, A) actions in the data's units.
"""
from __future__ import annotations

import time

import jax
import numpy as np

from lawm_jax.planning.protocols import Method, summarise

CLOSED_LOOP = "closed_loop"  # config.plan.protocol
CLOSED_LOOP_HEADLINE = "final_distance"
STREAM = 7_919  # a third seed word: never the (seed, i) of a generated trajectory (training or held out)


def episode_seed(seed: int, episode: int) -> list[int]:
    """The seed of closed-loop episode `episode`: disjoint from every trajectory folder's."""
    return [seed, episode, STREAM]


def make_goal(sim, seed, goal_frames: int) -> dict:
    """The goal of an episode: its frame and state after goal_frames of the episode's actions."""
    rng = np.random.default_rng(seed)
    sim.reset(rng)
    for action in sim.episode_actions(rng, goal_frames):
        sim.step(action)
    return {"frame": sim.render(), "state": sim.state()}


def run_episode(sim, method: Method, key, seed, goal: dict, horizon: int, action_dim: int, frames: int,
                replan_every: int, frames_per_state: int = 1, decode=None) -> dict:
    """One method's closed loop from the episode's start; returns its scores, the frames
    and states from the start through every executed frame, and the seconds each
    replanning took; given `decode` (a pixel decoder's, states (B, T, N, D) -> frames) and
    a method with a model, also "imagined": for each executed frame, the frame its plan
    predicted, decoded (uint8)."""
    sim.reset(np.random.default_rng(seed))  # the same start as make_goal's
    shown, states, times, imagined = [sim.render()], [sim.state()], [], []
    q = frames_per_state
    goal_video = np.repeat(goal["frame"][None], q, axis=0)
    while len(shown) - 1 < frames:
        episode = {"video": np.concatenate([np.repeat(shown[-1][None], q, axis=0), goal_video]),
                   "actions": np.zeros((horizon, action_dim), np.float32)}
        t0 = time.perf_counter()
        planned = np.asarray(method.plan(jax.random.fold_in(key, len(shown)), episode))
        times.append(time.perf_counter() - t0)
        executed = planned[:min(replan_every, frames + 1 - len(shown))]
        if decode is not None and method.imagine is not None:
            imagined.append(method.imagine(episode, planned)[:len(executed)])
        for action in executed:
            sim.step(action)
            shown.append(sim.render())
            states.append(sim.state())
    final, target = states[-1], goal["state"]
    scores = {"final_distance": float(np.linalg.norm(final[:3] - target[:3]))}
    names = getattr(sim, "state_names", ())
    if "obj_x" in names:
        i = names.index("obj_x")
        scores["object_distance"] = float(np.linalg.norm(final[i:i + 3] - target[i:i + 3]))
    if hasattr(sim, "success"):  # the simulator's own criterion (Metaworld's)
        scores["success"] = float(sim.success())
    out = {"scores": scores, "frames": np.stack(shown), "states": np.stack(states), "seconds": times}
    if imagined:  # each state decoded alone; its last frame
        decoded = np.asarray(decode(np.concatenate(imagined)[:, None]))[:, -1]
        out["imagined"] = np.round(np.clip(decoded, 0, 1) * 255).astype(np.uint8)
    return out


def run_closed_loop(sim, methods: list[Method], episodes: int, seed: int, horizon: int, action_dim: int,
                    frames: int, replan_every: int, goal_frames: int, frames_per_state: int = 1,
                    progress=None, decode=None, imagined_episodes: int = 0) -> dict:
    """Every method on the same episodes and goals. Returns {"goals": [...], method: {metric:
    mean, metric + "_std", "per_episode": {metric: [...]}, "seconds_per_plan": median of
    the replannings after the first (compiling) one, "frames": executed frames of each
    episode, and with `decode`, "imagined": the planned frames of the first
    `imagined_episodes` episodes (run_episode's)}}."""
    seeds = [episode_seed(seed, e) for e in range(episodes)]
    goals = [make_goal(sim, s, goal_frames) for s in seeds]
    keys = jax.random.split(jax.random.key(seed), episodes)
    out = {"goals": goals}
    for m, method in enumerate(methods):
        rows, times, shown, imagined = [], [], [], []
        for e, s in enumerate(seeds):
            result = run_episode(sim, method, keys[e], s, goals[e], horizon, action_dim, frames, replan_every,
                                 frames_per_state, decode if e < imagined_episodes else None)
            rows.append(result["scores"])
            times += result["seconds"]
            shown.append(result["frames"])
            if "imagined" in result:
                imagined.append(result["imagined"])
            if progress:
                progress(m * episodes + e + 1, len(methods) * episodes)
        out[method.name] = {**summarise(rows, times), "frames": shown, **({"imagined": imagined} if imagined else {})}
    return out

