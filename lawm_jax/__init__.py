"""lawm_jax: latent-action world models (Garrido et al., arXiv 2601.05230) in JAX."""
from lawm_jax.api import (LoadedController, LoadedDecoder, LoadedWorldModel, load_controller, load_decoder,
                          load_world_model)
from lawm_jax.models.lpips import load_lpips
from lawm_jax.world_model import WorldModel, WorldModelConfig

__all__ = ["LoadedController", "LoadedDecoder", "LoadedWorldModel", "WorldModel", "WorldModelConfig",
           "load_controller", "load_decoder", "load_lpips", "load_world_model"]
