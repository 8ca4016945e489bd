"""The world-model API: shapes, rollouts, determinism, jit vs eager."""
import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lawm_jax.objective import lam_loss
from lawm_jax.world_model import WorldModel, WorldModelConfig
from tests.helpers import perturb, tiny_world_model_config


def video(seed, b=2):
    return jax.random.randint(jax.random.key(seed), (b, 10, 12, 8, 3), 0, 256).astype(jnp.uint8)


@pytest.mark.parametrize("kind", ["sparse", "noisy", "vq", "deterministic", "unconstrained"])
def test_api_shapes_and_dtypes(kind):
    """Traced, not compiled (a compile per kind took ~20 s): the values are the other
    tests' (the same-seed test computes the noisy and VQ losses)."""
    wm = WorldModel(tiny_world_model_config(kind))
    params = jax.eval_shape(wm.init, jax.random.key(0))
    assert ("idm" in params) == (kind != "deterministic")

    def run(params, v):
        s = wm.encode(params, v)
        z = wm.infer_actions(params, s).z
        return (s, z, wm.predict(params, s[:, :-1], z), wm.rollout(params, s[:, :2], z[:, 1:]),
                lam_loss(wm, params, s, jax.random.key(2)))

    s, z, pred, future, (loss, aux) = jax.eval_shape(run, params, video(1))
    chex.assert_shape(s, (2, 5, 6, 52))
    assert s.dtype == jnp.float32
    chex.assert_shape(z, (2, 4, 7))
    chex.assert_shape(pred, (2, 4, 6, 52))
    chex.assert_shape(future, (2, 3, 6, 52))
    chex.assert_shape(loss, ())
    assert aux["metrics"]["pred_l1"].shape == ()
    if kind == "deterministic":  # no IDM: the latents are zeros, whatever the states
        np.testing.assert_array_equal(np.asarray(wm.infer_actions(params, jnp.ones((2, 5, 6, 52))).z), 0.0)


def test_states_are_layer_normalised_per_token():
    wm = WorldModel(tiny_world_model_config())
    s = wm.encode(wm.init(jax.random.key(0)), video(1))
    np.testing.assert_allclose(np.asarray(s.mean(-1)), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(s.std(-1)), 1.0, atol=1e-3)


def test_rollout_feeds_its_own_predictions_back():
    """rollout == a hand-written loop of teacher-forced predictions on predicted states."""
    wm = WorldModel(tiny_world_model_config())
    params = perturb(wm.init(jax.random.key(0)), scale=0.2)
    s = jax.jit(wm.encode)(params, video(1))
    z = jax.random.normal(jax.random.key(2), (2, 4, 7))
    rollout, predict = jax.jit(wm.rollout), jax.jit(wm.predict)
    got = rollout(params, s[:, :2], z[:, 1:], z[:, :1])
    states = s[:, :2]
    for h in range(3):
        nxt = predict(params, states, z[:, :states.shape[1]])[:, -1:]
        states = jnp.concatenate([states, nxt], axis=1)
    chex.assert_trees_all_close(got, states[:, 2:], atol=1e-5)
    # One-step rollout from the full context equals teacher forcing at the last step.
    tf = predict(params, s[:, :-1], z)
    chex.assert_trees_all_close(rollout(params, s[:, :4], z[:, 3:], z[:, :3]), tf[:, 3:], atol=1e-5)


def test_driven_rollout_chooses_each_latent_from_the_state_it_acts_on():
    """rollout_driven(next_latent) == a loop where z_i is computed from the last state
    (known, then predicted): how a controller drives the model while planning."""
    wm = WorldModel(tiny_world_model_config())
    params = perturb(wm.init(jax.random.key(0)), scale=0.2)
    s = jax.jit(wm.encode)(params, video(1))
    a = jax.random.normal(jax.random.key(3), (2, 3, 7))

    def next_latent(i, last):  # a state-dependent "controller"
        return a[:, i] * jnp.tanh(last.mean(axis=(1, 2)))[:, None] + last[:, 0, :7]

    got = jax.jit(lambda p, c: wm.rollout_driven(p, c, 3, next_latent))(params, s[:, :1])
    predict = jax.jit(wm.predict)
    states, latents = s[:, :1], []
    for i in range(3):
        latents.append(next_latent(i, states[:, -1]))
        nxt = predict(params, states, jnp.stack(latents, 1))[:, -1:]
        states = jnp.concatenate([states, nxt], axis=1)
    chex.assert_trees_all_close(got, states[:, 1:], atol=1e-5)


# The unrolled float32 predictor's cached rollout is checked against hand-written loops
# of uncached predictions above, in the default run; these variants run with the slow set.
@pytest.mark.parametrize("variant", [
    pytest.param(dict(scan=True, remat=True, residual=True), marks=pytest.mark.slow),
    pytest.param(dict(), marks=pytest.mark.slow),
    pytest.param(dict(dtype="bfloat16"), marks=pytest.mark.slow)])
def test_cached_rollout_equals_the_uncached_one(variant):
    """The key/value cache (each step runs the predictor on the newest state only) gives
    the rollout that re-running the predictor over the whole sequence gives, and its
    compiled program does less arithmetic."""
    import dataclasses
    cfg = tiny_world_model_config()
    cfg = dataclasses.replace(cfg, predictor=dataclasses.replace(cfg.predictor, **variant))
    wm = WorldModel(cfg)
    params = perturb(wm.init(jax.random.key(0)), scale=0.2)
    s = jax.jit(wm.encode)(params, video(1))
    z = jax.random.normal(jax.random.key(2), (2, 3, 7))
    args = (params, s[:, :2], z)
    cached = jax.jit(lambda p, c, lat: wm.rollout(p, c, lat, cache=True)).lower(*args).compile()
    full = jax.jit(lambda p, c, lat: wm.rollout(p, c, lat, cache=False)).lower(*args).compile()
    got, want = cached(*args), full(*args)
    tol = 5e-2 if variant.get("dtype") == "bfloat16" else 1e-5
    chex.assert_trees_all_close(got, want, atol=tol, rtol=tol)
    assert float(jnp.abs(want - s[:, 2:]).mean()) > 0.1  # a real rollout, not a copy
    assert cached.cost_analysis()["flops"] < full.cost_analysis()["flops"]


def test_action_conditioned_model_takes_real_actions_and_has_no_idm():
    wm = WorldModel(dataclasses.replace(tiny_world_model_config("deterministic"), conditioning="actions"))
    params = wm.init(jax.random.key(0))
    assert "idm" not in params
    s = jax.jit(wm.encode)(params, video(1))
    with pytest.raises(ValueError, match="infers no latent actions"):
        wm.infer_actions(params, s)
    params = perturb(params, scale=0.2)
    loss = jax.jit(lambda p, s, a: lam_loss(wm, p, s, None, actions=a)[0])
    a = jax.random.normal(jax.random.key(4), (2, 4, 7))
    assert float(loss(params, s, a)) != float(loss(params, s, a + 1.0))  # the actions drive the predictor


def test_a_run_saved_with_bottleneck_kind_actions_reads_as_conditioning_on_actions():
    cfg = dataclasses.replace(tiny_world_model_config("deterministic"), conditioning="actions")
    assert WorldModelConfig.from_dict(cfg.to_dict()) == cfg
    old = cfg.to_dict()
    del old["conditioning"]
    old["bottleneck"]["kind"] = "actions"  # how such runs' world_model.json said it
    assert WorldModelConfig.from_dict(old) == cfg
    assert not cfg.infers_latents


@pytest.mark.parametrize("kind", ["noisy", "vq"])  # the two with random draws in training
def test_same_seed_same_bits(kind):
    wm = WorldModel(tiny_world_model_config(kind))
    p1, p2 = wm.init(jax.random.key(5)), wm.init(jax.random.key(5))
    chex.assert_trees_all_equal(p1, p2)
    assert not np.array_equal(wm.init(jax.random.key(6))["predictor"]["embed"]["kernel"],
                              p1["predictor"]["embed"]["kernel"])

    @jax.jit
    def loss_and_grad(p, v, rng):
        return jax.value_and_grad(lambda q: lam_loss(wm, q, wm.encode(q, v), rng), has_aux=True)(p)

    (l1, a1), g1 = loss_and_grad(p1, video(1, b=4), jax.random.key(7))
    (l2, a2), g2 = loss_and_grad(p2, video(1, b=4), jax.random.key(7))
    chex.assert_trees_all_equal((l1, a1["metrics"], g1), (l2, a2["metrics"], g2))
    assert np.isfinite(float(l1)) and float(a1["metrics"]["pred_l1"]) > 0


def test_jit_agrees_with_eager():
    wm = WorldModel(tiny_world_model_config("noisy"))
    params = wm.init(jax.random.key(5))

    def loss(p, v):
        return lam_loss(wm, p, wm.encode(p, v), jax.random.key(7))

    eager, jitted = loss(params, video(1)), jax.jit(loss)(params, video(1))
    chex.assert_trees_all_close(jitted, eager, atol=1e-5, rtol=1e-5)


def test_idm_gets_no_gradient_from_the_encoder_and_the_encoder_none():
    wm = WorldModel(tiny_world_model_config("unconstrained"))
    params = wm.init(jax.random.key(0))
    params = {**params, "predictor": perturb(params["predictor"], scale=0.1)}

    def loss(p):
        return lam_loss(wm, p, wm.encode(p, video(1)), jax.random.key(0))[0]

    g = jax.jit(jax.grad(loss))(params)
    assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree.leaves(g["encoder"]))
    assert any(float(jnp.abs(x).max()) > 0.0 for x in jax.tree.leaves(g["idm"]))


@pytest.mark.slow
def test_objective_under_shard_map_equals_the_global_batch():
    """The whole loss, data-parallel over 4 devices with shard_map (batch statistics
    all-reduced), gives the single-device loss and parameter gradients."""
    from jax.sharding import AxisType, PartitionSpec as P
    wm = WorldModel(tiny_world_model_config("sparse", l1=0.05))
    params = wm.init(jax.random.key(0))
    params = {**params, "predictor": perturb(params["predictor"], scale=0.1)}
    s = jax.jit(wm.encode)(params, video(1, b=8))
    mesh = jax.make_mesh((4,), ("data",), axis_types=(AxisType.Auto,))

    def global_loss(p):
        return lam_loss(wm, p, s, jax.random.key(0))[0]

    def sharded_loss(p):
        per_device = jax.shard_map(
            lambda p, s_local: lam_loss(wm, p, s_local, jax.random.key(0), axis_name="data")[0],
            mesh=mesh, in_specs=(P(), P("data")), out_specs=P())
        return per_device(p, s)

    want, want_g = jax.jit(jax.value_and_grad(global_loss))(params)
    got, got_g = jax.jit(jax.value_and_grad(sharded_loss))(params)
    chex.assert_trees_all_close((got, got_g), (want, want_g), atol=1e-5, rtol=1e-4)


def test_predict_vmaps_over_an_extra_axis():
    wm = WorldModel(tiny_world_model_config())
    params = perturb(wm.init(jax.random.key(0)), scale=0.2)
    s = jax.random.normal(jax.random.key(1), (3, 2, 4, 6, 52))
    z = jax.random.normal(jax.random.key(2), (3, 2, 4, 7))
    batched = jax.jit(jax.vmap(wm.predict, in_axes=(None, 0, 0)))(params, s, z)
    one = jax.jit(wm.predict)(params, s[1], z[1])
    chex.assert_trees_all_close(batched[1], one, atol=1e-5)


@pytest.mark.slow
def test_bfloat16_compute_and_remat_match_float32():
    import dataclasses
    cfg = tiny_world_model_config("noisy")
    bf16 = dataclasses.replace(
        cfg, encoder=dataclasses.replace(cfg.encoder, dtype="bfloat16", remat=True),
        idm=dataclasses.replace(cfg.idm, dtype="bfloat16", remat=True),
        predictor=dataclasses.replace(cfg.predictor, dtype="bfloat16", remat=True))
    wm32, wm16 = WorldModel(cfg), WorldModel(bf16)
    params = wm32.init(jax.random.key(0))  # parameters stay float32 in both

    def loss(wm):
        return jax.jit(jax.value_and_grad(
            lambda p: lam_loss(wm, p, wm.encode(p, video(1)), jax.random.key(0))[0]))(params)

    (l32, _), (l16, g16) = loss(wm32), loss(wm16)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(g16))
    assert abs(float(l16) - float(l32)) < 0.02 * abs(float(l32)), (l16, l32)


def test_paper_sized_model_builds():
    """Shapes only (no memory): the paper's ViT-L predictor with full-width AdaLN is
    ~450M parameters (paper notes §3.2), the V-JEPA 2-L encoder ~300M."""
    from configs import paper
    from lawm_jax.config import world_model_config
    wm = WorldModel(world_model_config(paper.get_config("noisy")))
    shapes = jax.eval_shape(wm.init, jax.random.key(0))
    count = {k: sum(int(np.prod(x.shape)) for x in jax.tree.leaves(v)) for k, v in shapes.items()}
    assert 300e6 < count["encoder"] < 306e6
    assert 440e6 < count["predictor"] < 470e6, count
    out = jax.eval_shape(wm.encode, shapes, jax.ShapeDtypeStruct((1, 16, 256, 256, 3), jnp.uint8))
    chex.assert_shape(out, (1, 8, 256, 1024))
