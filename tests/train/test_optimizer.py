"""Muon on the hidden matrices, AdamW on everything else."""
import jax
import ml_collections
import numpy as np
import optax

from lawm_jax.train.optimizer import make_optimizer, muon_dimension_numbers
from lawm_jax.world_model import WorldModel
from tests.helpers import tiny_world_model_config


def labelled(params):
    flat = jax.tree_util.tree_flatten_with_path(muon_dimension_numbers(params),
                                                is_leaf=lambda x: x is None or hasattr(x, "reduction_axis"))[0]
    return {"/".join(getattr(k, "key", str(k)) for k in path): dims for path, dims in flat}


def test_which_parameters_go_to_muon():
    params = jax.eval_shape(WorldModel(tiny_world_model_config("vq")).init, jax.random.key(0))
    trained = {k: v for k, v in params.items() if k != "encoder"}
    labels = labelled(trained)
    muon = {name for name, dims in labels.items() if dims is not None}
    adam = set(labels) - muon
    # Hidden matrices inside the blocks: attention, MLP, AdaLN modulation.
    assert "predictor/layer_0/attention/query/kernel" in muon and "idm/layer_0/mlp/fc2/kernel" in muon
    assert any("adaln" in n.lower() or "modulation" in n.lower() for n in muon), sorted(muon)
    assert all("/layer_" in n and n.endswith("kernel") for n in muon)
    # Everything else: embeddings, heads, tokens, norms, biases, the VQ codebook.
    assert "bottleneck/codebook" in adam
    assert any(n.endswith("bias") for n in adam) and any("norm" in n for n in adam)
    assert all(not n.endswith("kernel") or "/layer_" not in n for n in adam)
    q = labels["predictor/layer_0/attention/query/kernel"]  # (D, heads, head_dim): reduce over D
    assert q.reduction_axis == 0 and q.output_axis == (1, 2)


def test_learning_rates_weight_decay_and_schedule():
    cfg = ml_collections.ConfigDict({"muon_lr": 0.02, "adam_lr": 1e-3, "weight_decay": 0.04,
                                     "warmup_frac": 0.1, "clip_norm": 1.0})
    tx = make_optimizer(cfg, total_steps=100)
    params = {"mlp": {"layer_0": {"kernel": np.ones((8, 8), np.float32)}},
              "head": {"kernel": np.ones((8, 8), np.float32)}}
    state = tx.init(params)
    zero = jax.tree.map(np.zeros_like, params)
    updates, _ = tx.update(zero, state, params)
    # Step 0 of the warm-up: learning rate 0, so nothing moves, decay included.
    assert all(float(np.abs(u).max()) == 0 for u in jax.tree.leaves(updates))
    for _ in range(11):  # the 11th update is the first at the peak rate (warm-up: 10 steps)
        updates, state = tx.update(zero, state, params)
    # With zero gradients only weight decay acts: lr * wd * w, each half at its own rate.
    head = float(-updates["head"]["kernel"][0, 0])
    hidden = float(-updates["mlp"]["layer_0"]["kernel"][0, 0])
    np.testing.assert_allclose(head, 1e-3 * 0.04, rtol=1e-3)
    assert hidden > 10 * head  # Muon's own (20x larger) rate
    assert optax.global_norm(updates) > 0


def test_schedules_for_very_short_runs():
    from lawm_jax.train.optimizer import schedules
    cfg = ml_collections.ConfigDict({"muon_lr": 0.02, "adam_lr": 1e-3, "warmup_frac": 0.1})
    for steps in (1, 2, 5):  # a 1-step run used to raise in optax (decay over 0 steps)
        lr = schedules(cfg, steps)
        values = [float(lr["adam"](s)) for s in range(steps)]
        assert all(np.isfinite(values)) and values[0] == 0.0 and max(values) <= 1e-3 * (1 + 1e-6)


def _optax_muon(cfg, total_steps):
    """The optimizer as it was before the Newton-Schulz dtype: optax.contrib.muon."""
    from lawm_jax.train.optimizer import schedules
    lr = schedules(cfg, total_steps)
    return optax.chain(optax.clip_by_global_norm(cfg.clip_norm), optax.contrib.muon(
        learning_rate=lr["muon"], adam_learning_rate=lr["adam"], weight_decay=cfg.weight_decay,
        adam_weight_decay=cfg.weight_decay, muon_weight_dimension_numbers=muon_dimension_numbers))


def test_float32_newton_schulz_is_optax_muon_and_keeps_its_checkpoints():
    params = WorldModel(tiny_world_model_config("vq")).init(jax.random.key(0))
    params = {k: v for k, v in params.items() if k != "encoder"}
    cfg = ml_collections.ConfigDict({"muon_lr": 0.02, "adam_lr": 1e-3, "weight_decay": 0.04, "warmup_frac": 0.1,
                                     "clip_norm": 1.0, "muon_ns_dtype": "float32"})
    ours, theirs = make_optimizer(cfg, 100), _optax_muon(cfg, 100)
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    # The same state tree, leaf paths included: checkpoints written before restore.
    assert jax.tree.structure(s_ours) == jax.tree.structure(s_theirs)
    paths = lambda s: [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(s)[0]]  # noqa: E731
    assert paths(s_ours) == paths(s_theirs)
    step_ours, step_theirs = jax.jit(ours.update), jax.jit(theirs.update)
    for i in range(12):  # past the warm-up: both learning rates non-zero
        grads = jax.tree.map(lambda x, i=i: jax.random.normal(jax.random.key(i), x.shape), params)
        u_ours, s_ours = step_ours(grads, s_ours, params)
        u_theirs, s_theirs = step_theirs(grads, s_theirs, params)
    for a, b in zip(jax.tree.leaves(u_ours), jax.tree.leaves(u_theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(np.abs(b).max()))
    assert min(float(np.abs(u).max()) for u in jax.tree.leaves(u_ours)) > 0


def test_bf16_newton_schulz_is_within_its_stated_bound():
    import jax.numpy as jnp
    from optax.contrib._muon import orthogonalize_via_newton_schulz

    from lawm_jax.train.optimizer import NS_COEFFS, newton_schulz
    rng = np.random.default_rng(0)
    for shape in [(64, 64), (384, 1536), (1536, 384), (40, 240)]:
        gauss = rng.normal(size=shape).astype(np.float32)
        u, _, vt = np.linalg.svd(gauss, full_matrices=False)
        ill = (u * np.logspace(0, -3, u.shape[1])) @ vt  # condition number 1000
        for x in (gauss, ill):
            ref = np.asarray(orthogonalize_via_newton_schulz(jnp.asarray(x), jnp.asarray(NS_COEFFS), 5))
            ours32, ours16 = (np.asarray(newton_schulz(jnp.asarray(x)[None], d))[0] for d in ("float32", "bfloat16"))
            np.testing.assert_allclose(ours32, ref, atol=1e-5)
            assert np.linalg.norm(ours16 - ref) <= 0.10 * np.linalg.norm(ref), shape
            sv16, sv32 = (np.linalg.svd(y, compute_uv=False) for y in (ours16, ref))
            assert np.abs(sv16 - sv32).max() <= 0.05, (shape, np.abs(sv16 - sv32).max())
            if x is gauss:  # well conditioned: every direction lands in the coefficients' band
                assert 0.5 <= sv16.min() and sv16.max() <= 1.25, (shape, sv16.min(), sv16.max())
            assert ours16.dtype == np.float32 and np.isfinite(ours16).all()
