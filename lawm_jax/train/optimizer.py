"""Muon on the hidden weight matrices, AdamW on everything else (paper §4, App. A).

Hidden matrices are the kernels inside transformer blocks (`layer_*`, or `layers` when
scanned): attention q/k/v/proj, MLP and AdaLN modulation. Embeddings, heads, tokens,
norms, biases and the VQ codebook go to AdamW. Both share one schedule shape: linear warm-up over
`warmup_frac` of the steps, then cosine to zero; gradients are clipped by global norm.
Muon as optax.contrib.muon (momentum 0.95 with Nesterov, 5 Newton-Schulz steps (3.4445,
-4.7750, 2.0315), updates scaled by sqrt(max(1, fan_out / fan_in)); AdamW b1 0.9, b2
0.999 with Nesterov, decaying all its parameters), except that the Newton-Schulz products run in
`train.muon_ns_dtype` (bf16 with float32 accumulation, as the original Muon and
PyTorch's do; optax's run in float32). The state's tree is optax's, so checkpoints of
either restore into the other.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax
from optax.contrib import MuonDimensionNumbers, MuonState

NS_COEFFS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5


def _muon_dims(path, leaf):
    """MuonDimensionNumbers for a hidden matrix, None for an AdamW parameter. Layers
    stacked for scan (`layers/block/...`) carry a leading depth axis: a batch of matrices."""
    names = [getattr(k, "key", str(k)) for k in path]
    if names[-1] != "kernel" or not any(n.startswith("layer_") or n == "layers" for n in names):
        return None
    lead = 1 if "layers" in names else 0
    shift = lambda axes: tuple(a + lead for a in axes) if isinstance(axes, tuple) else axes + lead  # noqa: E731
    ndim = leaf.ndim - lead
    if ndim == 2:
        reduction, output = 0, 1
    elif names[-2] in ("query", "key", "value"):  # (D, heads, head_dim)
        reduction, output = 0, (1, 2)
    elif names[-2] == "proj":  # (heads, head_dim, D)
        reduction, output = (0, 1), 2
    else:
        return None
    return MuonDimensionNumbers(reduction_axis=shift(reduction), output_axis=shift(output))


def muon_dimension_numbers(params):
    return jax.tree_util.tree_map_with_path(_muon_dims, params)


def newton_schulz(x_BMN, dtype="bfloat16", steps: int = NS_STEPS, eps: float = 1e-8):
    """Muon's quintic Newton-Schulz iteration on a batch of (M, N) matrices: about
    U S' V^T of x = U S V^T, where S' is not exactly 1 by design of the coefficients
    (0.5-1.25 for well-conditioned x; directions with S far below S.max() move less).
    Each product takes `dtype` inputs and accumulates in float32; the iterate is rounded
    to `dtype` between steps, the sums are float32.

    Bound (tests/train/test_optimizer.py): with bf16 every singular value is within 0.05
    of the float32 iteration's and the result within 10 % of it in Frobenius norm
    (measured 2-5 %, up to 9 % for ill-conditioned 40 x 240 matrices).
    """
    if x_BMN.shape[-2] > x_BMN.shape[-1]:  # iterate on the smaller Gram matrix
        return jnp.swapaxes(newton_schulz(jnp.swapaxes(x_BMN, -1, -2), dtype, steps, eps), -1, -2)
    a, b, c = NS_COEFFS
    f32 = jnp.float32
    x = x_BMN.astype(f32)
    x = (x / (jnp.linalg.norm(x, axis=(-2, -1), keepdims=True) + eps)).astype(dtype)
    mm = lambda u, v: jnp.matmul(u, v, preferred_element_type=f32)  # noqa: E731
    for _ in range(steps):
        gram = mm(x, jnp.swapaxes(x, -1, -2))
        poly = b * gram + c * mm(gram.astype(dtype), gram.astype(dtype))
        x = (a * x.astype(f32) + mm(poly.astype(dtype), x)).astype(dtype)
    return x.astype(f32)


def _orthogonalize(g, dims: MuonDimensionNumbers, dtype):
    """newton_schulz on g seen as a batch of (fan_in, fan_out) matrices, times Muon's
    width scale sqrt(max(1, fan_out / fan_in)); back in g's shape."""
    as_tuple = lambda a: tuple(x % g.ndim for x in ((a,) if isinstance(a, int) else a))  # noqa: E731
    reduction, output = as_tuple(dims.reduction_axis), as_tuple(dims.output_axis)
    batch = tuple(a for a in range(g.ndim) if a not in reduction + output)
    order = batch + reduction + output
    fan_in = math.prod(g.shape[a] for a in reduction)
    fan_out = math.prod(g.shape[a] for a in output)
    moved = jnp.transpose(g, order)
    flat = moved.reshape(-1, fan_in, fan_out)
    out = newton_schulz(flat, dtype).reshape(moved.shape) * math.sqrt(max(1.0, fan_out / fan_in))
    return jnp.transpose(out, [order.index(a) for a in range(g.ndim)]).astype(g.dtype)


def scale_by_muon(ns_dtype="bfloat16", beta: float = 0.95) -> optax.GradientTransformation:
    """Muon's direction: Nesterov momentum (bias-corrected, as optax's), orthogonalised
    by newton_schulz in ns_dtype, width-scaled. Leaves of the tree it sees are hidden
    matrices (the partition masks the rest); their paths give the dimension numbers."""

    def init(params):
        mu = jax.tree.map(jnp.zeros_like, params)
        return MuonState(count=jnp.zeros([], jnp.int32), mu=mu, ns_coeffs=jnp.asarray(NS_COEFFS))

    def update(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        mu = optax.tree.update_moment(updates, state.mu, beta, 1)
        mu_hat = jax.tree.map(lambda m, g: beta * m + (1 - beta) * g,
                              optax.tree.bias_correction(mu, beta, optax.safe_increment(count)),
                              optax.tree.bias_correction(updates, beta, count))
        out = jax.tree_util.tree_map_with_path(
            lambda path, m: _orthogonalize(m, _muon_dims(path, m), ns_dtype), mu_hat)
        return out, MuonState(count=count, mu=mu, ns_coeffs=state.ns_coeffs)

    return optax.GradientTransformation(init, update)


def schedules(train_cfg, total_steps: int) -> dict:
    """Learning rate per step of each optimizer ("muon", "adam"): linear warm-up, cosine."""
    warmup = max(int(train_cfg.warmup_frac * total_steps), 1)

    def schedule(peak):  # the decay needs >= 1 step after the warm-up, even for a 1-step run
        return optax.warmup_cosine_decay_schedule(0.0, peak, warmup, max(total_steps, warmup + 1))

    return {"muon": schedule(train_cfg.muon_lr), "adam": schedule(train_cfg.adam_lr)}


def make_optimizer(train_cfg, total_steps: int, muon: bool = True) -> optax.GradientTransformation:
    """Muon + AdamW (the LAM, the decoder); muon=False: AdamW alone at train_cfg.adam_lr
    (the controller, paper App. A)."""
    lr = schedules(train_cfg, total_steps)
    if not muon:
        return optax.chain(optax.clip_by_global_norm(train_cfg.clip_norm),
                           optax.adamw(lr["adam"], weight_decay=train_cfg.weight_decay))
    labels = lambda params: jax.tree_util.tree_map_with_path(  # noqa: E731
        lambda path, x: "adam" if _muon_dims(path, x) is None else "muon", params)
    return optax.chain(
        optax.clip_by_global_norm(train_cfg.clip_norm),
        optax.partition({
            # the same chain as optax.contrib.muon's (its shape scaling is a stateless
            # step of its own there: optax.identity keeps the state trees alike)
            "muon": optax.chain(scale_by_muon(train_cfg.get("muon_ns_dtype", "float32")), optax.identity(),
                                optax.add_decayed_weights(train_cfg.weight_decay),
                                optax.scale_by_learning_rate(lr["muon"])),
            "adam": optax.adamw(lr["adam"], weight_decay=train_cfg.weight_decay, nesterov=True)}, labels))
