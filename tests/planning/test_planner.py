"""The world-model planner: its cost is the distance of the rolled-out final state to the
goal, and CEM through it recovers a latent sequence that produced the goal."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lawm_jax.planning.cem import CEMConfig
from lawm_jax.planning.planner import WorldModelPlanner, state_distance
from lawm_jax.world_model import WorldModel
from tests.helpers import perturb, tiny_world_model_config


@pytest.fixture(scope="module")
def model():
    wm = WorldModel(tiny_world_model_config())
    params = perturb(wm.init(jax.random.key(0)), scale=0.2)
    context = jax.random.normal(jax.random.key(1), (1, 6, 52))
    return wm, params, context


def test_cost_is_the_distance_of_the_rollout_to_the_goal(model):
    wm, params, context = model
    planner = WorldModelPlanner(wm, CEMConfig(horizon=2, samples=4, elites=2, iterations=1), 7, "latent",
                                metric="l1")
    plans = jax.random.normal(jax.random.key(2), (3, 2, 7))
    goal = jax.random.normal(jax.random.key(3), (6, 52))
    final = wm.rollout(params, jnp.broadcast_to(context, (3, 1, 6, 52)), plans)[:, -1]
    want = np.abs(np.asarray(final) - np.asarray(goal)).mean(axis=(1, 2))
    np.testing.assert_allclose(planner.cost(plans, params, None, context, goal), want, rtol=1e-5)
    np.testing.assert_allclose(state_distance(final, goal, "l2"), np.square(final - goal).mean(axis=(1, 2)),
                               rtol=1e-5)


def test_cem_in_latent_space_reaches_a_reachable_goal(model):
    wm, params, context = model
    true_plan = 0.8 * jax.random.normal(jax.random.key(4), (1, 2, 7))
    goal = wm.rollout(params, context[None], true_plan)[0, -1]
    planner = WorldModelPlanner(wm, CEMConfig(horizon=2, samples=64, elites=6, iterations=8), 7, "latent")
    result = planner(jax.random.key(5), params, None, context, goal)
    zero_cost = planner.cost(jnp.zeros((1, 2, 7)), params, None, context, goal)[0]
    found = planner.cost(result.plan[None], params, None, context, goal)[0]
    assert float(found) < 0.2 * float(zero_cost)


def test_grounding_finds_the_actions_behind_planned_latents(model):
    """LatentGrounding inverts the controller: for latents made from known actions along a
    rollout, the actions it finds map (through the controller, from the same states) to
    nearly the same latents, inside the bounds."""
    from lawm_jax.models.controller import Controller, ControllerConfig, init_controller
    from lawm_jax.planning.planner import LatentGrounding
    wm, params, context = model
    controller = Controller(ControllerConfig(kind="attention", width=16, depth=1, num_heads=2, mlp_hidden=32), 7,
                            wm.config.grid)
    cparams = perturb(init_controller(controller, 6, 52, 3, jax.random.key(6)), scale=0.3)
    true = jnp.array([[0.6, -0.4, 0.2], [-0.5, 0.3, 0.7]])
    # The latents the true actions give along their own rollout, step by step.
    states = [context[-1]]
    latents = []
    for i in range(2):
        z = controller.apply({"params": cparams}, states[-1][None], true[i][None])[0]
        latents.append(z)
        states.append(wm.rollout(params, context[None], jnp.stack(latents)[None])[0, -1])
    latents = jnp.stack(latents)
    grounding = LatentGrounding(wm, controller, CEMConfig(samples=128, elites=8, iterations=10, low=-1.0, high=1.0), 3)
    found = grounding(jax.random.key(7), params, cparams, context, latents)
    assert found.shape == (2, 3) and bool(jnp.all(jnp.abs(found) <= 1.0))
    for i in range(2):
        hit = controller.apply({"params": cparams}, states[i][None], found[i][None])[0]
        miss = controller.apply({"params": cparams}, states[i][None], jnp.zeros((1, 3)))[0]
        assert float(jnp.sum((hit - latents[i]) ** 2)) < 0.05 * float(jnp.sum((miss - latents[i]) ** 2))


def test_bad_planner_settings_are_refused(model):
    wm, _, _ = model
    with pytest.raises(ValueError, match="needs a controller"):
        WorldModelPlanner(wm, CEMConfig(), 7, "controller")
    with pytest.raises(ValueError, match="drive 'steer'"):
        WorldModelPlanner(wm, CEMConfig(), 7, "steer")
    with pytest.raises(ValueError, match="planning cost 'l3'"):
        WorldModelPlanner(wm, CEMConfig(), 7, "latent", metric="l3")


def test_the_plan_job_checks_its_own_section():
    from configs import arm
    from lawm_jax.errors import ConfigError
    from lawm_jax.planning.run import check_plan
    p = arm.get_config("plan").plan
    check_plan(p)
    p.cost = "l3"
    with pytest.raises(ConfigError, match=r"config.plan.cost='l3': must be one of \('l1', 'l2'\)"):
        check_plan(p)
    p = arm.get_config("plan").plan
    p.elites = p.samples + 1
    with pytest.raises(ConfigError, match="config.plan.elites=.*must be <= plan.samples"):
        check_plan(p)
