"""Causality and AdaLN-zero properties of the IDM and the predictor."""
import chex
import jax
import numpy as np
import pytest

from lawm_jax.models.idm import IDMConfig, InverseDynamics
from lawm_jax.models.predictor import Predictor, PredictorConfig
from tests.helpers import perturb

B, T, GRID, D, A = 2, 5, (3, 2), 52, 7


def states(seed):
    return jax.random.normal(jax.random.key(seed), (B, T, GRID[0] * GRID[1], D))


def latents(seed, t=T):
    return jax.random.normal(jax.random.key(seed), (B, t, A))


@pytest.fixture(scope="module")
def idm():
    model = InverseDynamics(IDMConfig(width=40, depth=2, num_heads=2, mlp_hidden=44), A, GRID)
    return model, model.init(jax.random.key(0), states(0))


@pytest.fixture(scope="module")
def predictor():
    model = Predictor(PredictorConfig(width=40, depth=2, num_heads=2, mlp_hidden=44), GRID)
    params = model.init(jax.random.key(0), states(0), latents(0))
    return model, params


@pytest.mark.parametrize("k", [0, 2, 4])
def test_idm_latent_t_sees_only_steps_t_and_t_plus_1(idm, k):
    model, params = idm
    s = states(1)
    s_edit = s.at[:, k].set(states(2)[:, k])
    z, z_edit = model.apply(params, s), model.apply(params, s_edit)
    chex.assert_shape(z, (B, T - 1, A))
    touched = {k - 1, k} & set(range(T - 1))
    for t in range(T - 1):
        if t in touched:
            assert not np.allclose(z[:, t], z_edit[:, t]), t
        else:
            np.testing.assert_array_equal(np.asarray(z[:, t]), np.asarray(z_edit[:, t]))


@pytest.mark.parametrize("t", [0, 2, 3])
def test_predictor_is_step_causal(predictor, t):
    model, params = predictor
    params = perturb(params)  # AdaLN-zero at init is the identity: trivially causal
    s, z = states(1), latents(1)
    s_edit = s.at[:, t + 1:].set(states(2)[:, t + 1:])
    z_edit = z.at[:, t + 1:].set(0.0)
    out, out_edit = model.apply(params, s, z), model.apply(params, s_edit, z_edit)
    chex.assert_shape(out, s.shape)
    np.testing.assert_array_equal(np.asarray(out[:, :t + 1]), np.asarray(out_edit[:, :t + 1]))
    assert not np.allclose(out[:, t + 1:], out_edit[:, t + 1:])


def test_latent_t_only_affects_predictions_from_step_t_on(predictor):
    model, params = predictor
    params = perturb(params)
    s, z = states(1), latents(1)
    out, out_edit = model.apply(params, s, z), model.apply(params, s, z.at[:, 2].add(1.0))
    np.testing.assert_array_equal(np.asarray(out[:, :2]), np.asarray(out_edit[:, :2]))
    assert not np.allclose(out[:, 2], out_edit[:, 2])


def test_adaln_zero_predictor_ignores_latents_at_init(predictor):
    model, params = predictor
    a, b = model.apply(params, states(1), latents(1)), model.apply(params, states(1), latents(2) * 10)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # ... but not once the modulation has moved away from zero.
    moved = jax.tree_util.tree_map_with_path(
        lambda path, x: x + 0.1 if "modulation" in jax.tree_util.keystr(path) else x, params)
    assert not np.allclose(model.apply(moved, states(1), latents(1)),
                           model.apply(moved, states(1), latents(2) * 10))


def test_without_adaln_zero_the_latent_matters_from_init():
    model = Predictor(PredictorConfig(width=40, depth=2, num_heads=2, mlp_hidden=44, adaln_zero=False), GRID)
    params = model.init(jax.random.key(0), states(0), latents(0))
    assert not np.allclose(model.apply(params, states(1), latents(1)), model.apply(params, states(1), latents(2) * 10))


def test_residual_predictor_copies_the_last_state_at_init():
    model = Predictor(PredictorConfig(width=40, depth=1, num_heads=2, mlp_hidden=44, residual=True), GRID)
    params = model.init(jax.random.key(0), states(0), latents(0))
    np.testing.assert_array_equal(np.asarray(model.apply(params, states(1), latents(1))),
                                  np.asarray(states(1)))
