"""The controller: shapes, what it depends on, and that it learns a state-dependent map
that the action-only MLP cannot (the paper's reason for conditioning on the state)."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lawm_jax.models.controller import Controller, ControllerConfig, apply_steps
from tests.helpers import perturb

GRID = (2, 3)


def make(kind, width=32):
    cfg = ControllerConfig(kind=kind, width=width, depth=2, num_heads=2, mlp_hidden=48)
    controller = Controller(cfg, latent_dim=5, grid=GRID)
    params = jax.jit(controller.init)(jax.random.key(0), jnp.zeros((1, 6, 12)), jnp.zeros((1, 3)))["params"]
    return controller, params


@pytest.mark.parametrize("kind", ["attention", "mlp"])
def test_shapes_and_dependencies(kind):
    controller, params = make(kind)
    params = perturb(params)
    states = jax.random.normal(jax.random.key(1), (4, 6, 12))
    actions = jax.random.normal(jax.random.key(2), (4, 3))
    apply = jax.jit(lambda s, a: controller.apply({"params": params}, s, a))
    z = apply(states, actions)
    chex.assert_shape(z, (4, 5))
    chex.assert_tree_all_finite(z)
    other_actions = apply(states, actions + 1.0)
    other_states = apply(states + 1.0, actions)
    assert not np.allclose(z, other_actions)
    if kind == "attention":
        assert not np.allclose(z, other_states)
    else:  # action only: the states are ignored
        np.testing.assert_array_equal(z, other_states)
    seq = jax.jit(apply_steps, static_argnums=0)(controller, params, states.reshape(2, 2, 6, 12),
                                                 actions.reshape(2, 2, 3))
    np.testing.assert_allclose(seq.reshape(4, 5), z, atol=1e-6)  # step by step = flattened


@pytest.mark.slow  # trains both controllers: ~30 s on 2 cores
def test_attention_controller_learns_a_state_dependent_map_the_mlp_cannot():
    """Target z = a * (+1 or -1, which the state shows: its tokens are +-u plus noise),
    like a camera-relative latent whose meaning flips with the scene: with the state it
    is learnable; from the action alone the best guess is 0 (relative error 1 on new data)."""
    rng = np.random.default_rng(0)
    u = rng.standard_normal(12).astype(np.float32)

    def data(n):
        sign = rng.choice([-1.0, 1.0], (n, 1)).astype(np.float32)
        states = (sign[:, :, None] * u + 0.5 * rng.standard_normal((n, 6, 12))).astype(np.float32)
        actions = rng.standard_normal((n, 3)).astype(np.float32)
        return states, actions, np.concatenate([actions * sign, np.zeros((n, 2), np.float32)], 1)

    (states, actions, targets), held_out = data(256), data(256)

    def fit(kind):
        controller, params = make(kind)
        tx = optax.adam(3e-3)

        def loss(p, states=states, actions=actions, targets=targets):
            return jnp.mean(jnp.square(controller.apply({"params": p}, states, actions) - targets))

        @jax.jit
        def step(p, s):
            value, grads = jax.value_and_grad(loss)(p)
            updates, s = tx.update(grads, s, p)
            return optax.apply_updates(p, updates), s, value

        opt = tx.init(params)
        for _ in range(300):
            params, opt, _ = step(params, opt)
        return float(loss(params, *held_out)) / float(np.mean(np.square(held_out[2])))

    assert fit("attention") < 0.15
    assert fit("mlp") > 0.8
