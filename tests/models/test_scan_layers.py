"""Scan over layers (and remat) compute the same function as the unrolled layers, with
the same parameters in the stacked layout; Muon treats stacked kernels as a batch of
matrices; encoder checkpoints load into either layout."""
import dataclasses

import chex
import jax
import pytest
import jax.numpy as jnp
import ml_collections
import numpy as np

from lawm_jax import checkpoint
from lawm_jax.models.layers import stack_layers, unstack_layers
from lawm_jax.objective import lam_loss
from lawm_jax.train.optimizer import make_optimizer
from lawm_jax.world_model import WorldModel, WorldModelConfig
from tests.helpers import perturb, tiny_world_model_config


def with_layers(cfg: WorldModelConfig, **flags) -> WorldModelConfig:
    return dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, **flags),
                               idm=dataclasses.replace(cfg.idm, **flags),
                               predictor=dataclasses.replace(cfg.predictor, **flags))


@pytest.mark.slow  # compiles every network twice: about 50 s on 2 cores
def test_scan_matches_the_layer_loop(tmp_path):
    base = tiny_world_model_config("noisy")
    loop_wm, scan_wm = WorldModel(base), WorldModel(with_layers(base, scan=True, remat=True))
    params = perturb(loop_wm.init(jax.random.key(0)), scale=0.2)
    stacked = stack_layers(params)
    chex.assert_trees_all_equal_shapes_and_dtypes(stacked, jax.eval_shape(scan_wm.init, jax.random.key(0)))
    assert stacked["predictor"]["layers"]["block"]["mlp"]["fc1"]["kernel"].shape == (2, 40, 44)
    chex.assert_trees_all_equal(unstack_layers(stacked), params)
    video = jax.random.randint(jax.random.key(1), (2, 10, 12, 8, 3), 0, 256).astype(jnp.uint8)

    def run(wm, params):
        states = wm.encode(params, video)
        loss_fn = lambda p: lam_loss(wm, {**p, "encoder": params["encoder"]}, states, jax.random.key(2))[0]  # noqa: E731
        trained = {k: v for k, v in params.items() if k != "encoder"}
        return states, jax.value_and_grad(loss_fn)(trained)

    states_a, (loss_a, grads_a) = jax.jit(lambda p: run(loop_wm, p))(params)
    states_b, (loss_b, grads_b) = jax.jit(lambda p: run(scan_wm, p))(stacked)
    np.testing.assert_allclose(states_a, states_b, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(loss_a, loss_b, rtol=1e-5)
    chex.assert_trees_all_close(unstack_layers(grads_b), grads_a, atol=1e-5, rtol=1e-4)
    assert float(jnp.abs(grads_a["predictor"]["layer_1"]["mlp"]["fc2"]["kernel"]).sum()) > 0

    # Muon on a stacked kernel = Muon on each layer's matrix (the depth axis is a batch axis).
    cfg = ml_collections.ConfigDict({"muon_lr": 0.02, "adam_lr": 1e-3, "weight_decay": 0.04,
                                     "warmup_frac": 0.0, "clip_norm": 1e9})
    tx = make_optimizer(cfg, 10)
    trained = {k: v for k, v in params.items() if k != "encoder"}
    update = jax.jit(lambda g, p: tx.update(g, tx.init(p), p)[0])
    upd_a = update(grads_a, trained)
    upd_b = update(stack_layers(grads_a), stack_layers(trained))
    chex.assert_trees_all_close(unstack_layers(upd_b), upd_a, atol=1e-6, rtol=1e-4)

    # Encoder checkpoints hold the unrolled layout and load into the scanned one.
    checkpoint.save_encoder(str(tmp_path / "enc"), stacked["encoder"], scan_wm.config.encoder)
    loaded, cfg_loaded = checkpoint.load_encoder(str(tmp_path / "enc"), scan_wm.config.encoder)
    assert cfg_loaded.scan
    chex.assert_trees_all_equal(loaded, stacked["encoder"])
    unrolled, _ = checkpoint.load_encoder(str(tmp_path / "enc"), base.encoder)
    chex.assert_trees_all_equal(unrolled, params["encoder"])
