"""lawm_jax: latent-action world models (Garrido et al., arXiv 2601.05230) in JAX."""
from lawm_jax.api import LoadedDecoder, LoadedWorldModel, load_decoder, load_world_model
from lawm_jax.world_model import WorldModel, WorldModelConfig

__all__ = ["LoadedDecoder", "LoadedWorldModel", "WorldModel", "WorldModelConfig", "load_decoder",
           "load_world_model"]
