"""The CEM solver on known costs (after stable-worldmodel's solver tests)."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lawm_jax.planning.cem import CEMConfig, make_cem

TARGET = jnp.array([[0.3, -0.5], [1.0, 0.2], [-0.7, 0.1]])  # (H=3, A=2)


def quadratic(plans, target):
    return jnp.sum((plans - target) ** 2, axis=(1, 2))


def test_finds_the_optimum_of_a_quadratic():
    result = make_cem(quadratic, CEMConfig(), 2)(jax.random.key(0), TARGET)
    np.testing.assert_allclose(result.plan, TARGET, atol=0.01)
    np.testing.assert_allclose(result.best, TARGET, atol=0.02)
    assert float(result.best_cost) < 1e-3
    trace = np.asarray(result.mean_elite_cost)
    assert trace.shape == (15,) and trace[-1] < trace[0] / 100  # the elites improve
    chex.assert_shape(result.actions, (3, 2))


def test_same_key_same_plan_other_key_other_samples():
    cfg = CEMConfig(iterations=2, samples=32, elites=4)
    solve = make_cem(quadratic, cfg, 2)
    a, b = solve(jax.random.key(3), TARGET), solve(jax.random.key(3), TARGET)
    chex.assert_trees_all_equal(a, b)
    c = solve(jax.random.key(4), TARGET)
    assert not np.allclose(a.plan, c.plan)


def test_respects_per_dimension_clipping():
    low, high = (-0.4, -0.3), (0.4, 0.15)
    result = make_cem(quadratic, CEMConfig(low=low, high=high), 2)(jax.random.key(0), TARGET)
    want = np.clip(TARGET, low, high)  # the constrained optimum of a separable quadratic
    np.testing.assert_allclose(result.plan, want, atol=0.01)
    assert np.all(np.asarray(result.best) >= np.array(low) - 1e-6)
    assert np.all(np.asarray(result.best) <= np.array(high) + 1e-6)


def test_straight_line_repeats_one_action_and_finds_the_best_constant():
    result = make_cem(quadratic, CEMConfig(straight_line=True), 2)(jax.random.key(0), TARGET)
    np.testing.assert_array_equal(result.plan[0], result.plan[1])
    np.testing.assert_allclose(result.plan[0], TARGET.mean(0), atol=0.01)  # argmin of sum (a - t_i)^2


def test_execute_returns_the_leading_actions_and_momentum_slows_convergence():
    result = make_cem(quadratic, CEMConfig(execute=1), 2)(jax.random.key(0), TARGET)
    chex.assert_trees_all_equal(result.actions, result.plan[:1])
    fast = make_cem(quadratic, CEMConfig(iterations=3), 2)(jax.random.key(0), TARGET)
    slow = make_cem(quadratic, CEMConfig(iterations=3, momentum=0.9), 2)(jax.random.key(0), TARGET)
    assert float(quadratic(slow.plan[None], TARGET)[0]) > float(quadratic(fast.plan[None], TARGET)[0])


def test_keep_mean_scores_the_mean_itself_in_one_batched_call():
    """Starting at the optimum: kept as sample 0 it scores exactly 0; random samples do not."""
    calls = []

    def cost(plans, target):
        calls.append(plans.shape)
        return quadratic(plans, target)

    cfg = CEMConfig(iterations=1, samples=8, elites=2, init_mean=0.25, init_std=1.0)
    kept = make_cem(cost, cfg, 2)(jax.random.key(0), jnp.full((3, 2), 0.25))
    assert float(kept.best_cost) == 0.0
    assert calls == [(8, 3, 2)]  # traced once: all samples in one batched call
    free = make_cem(quadratic, CEMConfig(iterations=1, samples=8, elites=2, init_mean=0.25, init_std=1.0,
                                         keep_mean=False), 2)(jax.random.key(0), jnp.full((3, 2), 0.25))
    assert float(free.best_cost) > 0.1


def test_bad_budgets_are_refused():
    with pytest.raises(ValueError, match="elites <= samples"):
        make_cem(quadratic, CEMConfig(samples=4, elites=5), 2)
    with pytest.raises(ValueError, match="execute=4"):
        make_cem(quadratic, CEMConfig(execute=4), 2)
