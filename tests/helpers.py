"""Shared test helpers: tiny model configs and parameter perturbation."""
import functools

import jax
from lawm_jax.models.bottlenecks import BottleneckConfig
from lawm_jax.models.encoder import EncoderConfig
from lawm_jax.models.idm import IDMConfig
from lawm_jax.models.predictor import PredictorConfig
from lawm_jax.world_model import WorldModelConfig


def tiny_world_model_config(kind="unconstrained", **bottleneck):
    """Odd sizes so that no two axes can be confused: 10 frames of 12x8 with patch 4 and
    tubelet 2 give 5 steps of a 3x2 grid (6 tokens), encoder width 52
    (head dim 26: 3 x 8 rotated channels + 2 unrotated), latents of 7."""
    return WorldModelConfig(
        encoder=EncoderConfig(width=52, depth=2, num_heads=2, mlp_hidden=56, patch=4),
        idm=IDMConfig(width=40, depth=1, num_heads=2, mlp_hidden=44),
        predictor=PredictorConfig(width=40, depth=2, num_heads=2, mlp_hidden=44),
        bottleneck=BottleneckConfig(kind=kind, latent_dim=7, codebook_size=11, **bottleneck),
        image_size=(12, 8), frames=10)


@functools.partial(jax.jit, static_argnames=("seed", "scale"))
def perturb(params, seed=1, scale=0.3):
    """Random non-zero values everywhere (AdaLN-zero's zeros would hide dependencies);
    jitted: leaf by leaf in eager mode it took seconds."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return jax.tree.unflatten(treedef, [scale * jax.random.normal(k, x.shape, x.dtype)
                                        for k, x in zip(keys, leaves)])
