"""Counting arithmetic: XLA's count of a compiled program, and a hand count of the model.

`compiled_flops` reads XLA's cost analysis (what the compiled program does, masked
attention blocks and elementwise work included). `train_step_flops` counts the matrix
products of one LAM train step by hand (the "model FLOPs" of MFU: 2 per multiply-add,
dense attention, backward = 2 x forward), so that utilisation can be stated both ways
and the two counts can check each other (tests/test_flops.py).
"""
from __future__ import annotations

import logging

from lawm_jax.models.lpips import alexnet_flops
from lawm_jax.world_model import WorldModelConfig


def compiled_flops(executable) -> float | None:
    """FLOPs of one call over the whole mesh from XLA's cost analysis (None where the
    backend gives no estimate: an estimate must never stop a run)."""
    try:
        cost = executable.cost_analysis()
    except Exception as e:  # noqa: BLE001 - some backends raise instead of returning nothing
        logging.warning("no FLOP estimate: %s", e)
        return None
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost["flops"]) if cost and cost.get("flops", 0) > 0 else None


def block_flops(tokens: int, width: int, mlp_hidden: int, modulation: int = 0) -> float:
    """Forward matrix-product FLOPs of one self-attention block on `tokens` tokens: q/k/v/out
    projections, q k^T and weights x v over all heads (dense), the MLP; `modulation` = the
    conditioning vectors an AdaLN block projects to 6 x width."""
    projections = 2 * tokens * width * width * 4  # q, k, v, out
    attention = 2 * tokens * tokens * width * 2
    mlp = 2 * tokens * width * mlp_hidden * 2
    return float(projections + attention + mlp + 2 * modulation * width * 6 * width)


def network_flops(cfg, tokens: int, sequences: int, modulation: int = 0) -> float:
    """Forward FLOPs of `depth` blocks of a network config over `sequences` sequences."""
    return sequences * cfg.depth * block_flops(tokens, cfg.width, cfg.mlp_hidden, modulation=modulation)


def train_step_flops(cfg: WorldModelConfig, batch: int, with_encoder: bool = True) -> dict:
    """Hand count of one LAM train step's matrix products, per network, and the total.

    Encoder: forward only (frozen); a CNN kind's convolutions per frame. IDM and predictor: forward + backward (3 x forward:
    the backward computes gradients for inputs and weights). Embeddings and heads are
    included; elementwise work, the loss and the optimizer are not.
    """
    t, n = cfg.steps, cfg.tokens
    enc, idm, pred = cfg.encoder, cfg.idm, cfg.predictor
    d = enc.width
    counts = {"encoder": 0.0, "idm": 0.0, "predictor": 0.0}
    if with_encoder and enc.kind == "alexnet":  # its convolutions, frame by frame
        counts["encoder"] = batch * cfg.frames * alexnet_flops(*cfg.image_size, enc.layer)
    elif with_encoder:  # else the batch holds cached states (the features job ran the encoder)
        enc_seqs = batch * (cfg.frames if enc.mode == "per_frame" else 1)
        enc_tokens = n * (1 if enc.mode == "per_frame" else t)
        patch_in = enc.tubelet * enc.patch * enc.patch * enc.in_chans
        counts["encoder"] = (network_flops(enc, enc_tokens, enc_seqs)
                             + 2.0 * enc_seqs * enc_tokens * patch_in * d)
    a = cfg.bottleneck.latent_dim
    if cfg.bottleneck.kind != "deterministic":  # the IDM
        pairs = batch * (t - 1)
        idm_fwd = (network_flops(idm, 2 * n + 1, pairs) + 2.0 * batch * t * n * d * idm.width
                   + 2.0 * pairs * idm.width * a * (2 if cfg.bottleneck.kind == "noisy" else 1))
        counts["idm"] = 3 * idm_fwd
    steps = t - 1  # the predictor sees s_0 .. s_{T-2}
    pred_fwd = (network_flops(pred, steps * n, batch, modulation=steps)
                + 2.0 * batch * steps * n * d * pred.width * 2 + 2.0 * batch * steps * a * pred.width)
    counts["predictor"] = 3 * pred_fwd
    counts["total"] = sum(counts.values())
    return counts
