"""Muon on the hidden weight matrices, AdamW on everything else (paper §4, App. A).

Hidden matrices are the kernels inside transformer blocks (`layer_*`, or `layers` when
scanned): attention q/k/v/proj, MLP and AdaLN modulation. Embeddings, heads, tokens,
norms, biases and the VQ codebook go to AdamW. Both share one schedule shape: linear warm-up over
`warmup_frac` of the steps, then cosine to zero; gradients are clipped by global norm.
optax.contrib.muon's defaults otherwise: momentum 0.95 with Nesterov, 5 Newton-Schulz
steps (3.4445, -4.7750, 2.0315); AdamW b1 0.9, b2 0.999, decaying all its parameters.
"""
from __future__ import annotations

import jax
import optax
from optax.contrib import MuonDimensionNumbers


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
    return optax.chain(
        optax.clip_by_global_norm(train_cfg.clip_norm),
        optax.contrib.muon(
            learning_rate=lr["muon"],
            adam_learning_rate=lr["adam"],
            weight_decay=train_cfg.weight_decay,
            adam_weight_decay=train_cfg.weight_decay,
            muon_weight_dimension_numbers=muon_dimension_numbers,
        ),
    )
