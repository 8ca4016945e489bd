"""The latent-action world model: frozen encoder + IDM + bottleneck + predictor.

Every method is a pure function of a parameter pytree
    params = {"encoder": ..., "idm": ..., "predictor": ..., "bottleneck": ...}
so it can be jitted, vmapped, differentiated and sharded. Conventions (one place):
  states   (B, T, N, D)  s_t = encoder output for step t (one step = `tubelet` frames)
  latents  (B, T-1, A)   z_t = g(s_t, s_{t+1}) explains the transition t -> t+1
  predict  output step t is the prediction of s_{t+1} from s_{0:t} and z_{0:t}.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from lawm_jax.models import bottlenecks
from lawm_jax.models.bottlenecks import BottleneckConfig, BottleneckOutput
from lawm_jax.models.encoder import EncoderConfig, VideoEncoder, check_video_shape, normalize_pixels
from lawm_jax.models.idm import IDMConfig, InverseDynamics
from lawm_jax.models.predictor import Predictor, PredictorConfig

Params = dict[str, Any]
CONDITIONINGS = ("latent", "actions")


@dataclasses.dataclass(frozen=True)
class WorldModelConfig:
    encoder: EncoderConfig = EncoderConfig()
    idm: IDMConfig = IDMConfig()
    predictor: PredictorConfig = PredictorConfig()
    bottleneck: BottleneckConfig = BottleneckConfig()
    image_size: tuple[int, int] = (256, 256)
    frames: int = 16
    # LayerNorm (no affine) on encoder outputs, as V-JEPA 2-AC does (normalize_reps).
    normalize_states: bool = True
    # What the predictor is conditioned on: "latent" actions the IDM infers, or the real
    # "actions" given with the data (the action-conditioned baseline: no IDM, bottleneck
    # kind "deterministic", bottleneck.latent_dim = the actions' dimension).
    conditioning: str = "latent"

    @property
    def infers_latents(self) -> bool:
        """Whether the IDM infers latent actions that carry information (not the baseline,
        not the deterministic model)."""
        return self.conditioning == "latent" and self.bottleneck.kind != "deterministic"

    @property
    def grid(self) -> tuple[int, int]:
        return self.encoder.grid(*self.image_size)

    @property
    def tokens(self) -> int:
        """Tokens per state: the cells of the patch grid."""
        return self.grid[0] * self.grid[1]

    @property
    def steps(self) -> int:
        return self.frames // self.encoder.frames_per_step()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "WorldModelConfig":
        bottleneck, conditioning = dict(d["bottleneck"]), d.get("conditioning", "latent")
        if bottleneck["kind"] == "actions":  # runs saved before conditioning was its own field
            bottleneck["kind"], conditioning = "deterministic", "actions"
        return cls(encoder=EncoderConfig(**d["encoder"]), idm=IDMConfig(**d["idm"]),
                   predictor=PredictorConfig(**d["predictor"]),
                   bottleneck=BottleneckConfig(**bottleneck),
                   image_size=tuple(d["image_size"]), frames=d["frames"],
                   normalize_states=d["normalize_states"], conditioning=conditioning)


class WorldModel:
    """Stateless: holds the architecture; parameters are passed to every method."""

    def __init__(self, config: WorldModelConfig):
        self.config = config
        self.encoder = VideoEncoder(config.encoder)
        # No IDM for the deterministic model (z = 0), which the action-conditioned
        # baseline is too (its latents are the real actions, given with the data).
        self.idm = (InverseDynamics(config.idm, bottlenecks.raw_dim(config.bottleneck), config.grid)
                    if bottlenecks.raw_dim(config.bottleneck) else None)
        self.predictor = Predictor(config.predictor, config.grid)
        self._init = jax.jit(self._init_params)  # eager flax init is ~10x slower

    # -- parameters -----------------------------------------------------------------
    def init(self, rng) -> Params:
        """All parameters, from one key: encoder (random unless loaded), IDM, predictor,
        bottleneck (the VQ codebook)."""
        return self._init(rng)

    def _init_params(self, rng) -> Params:
        cfg = self.config
        k_enc, k_idm, k_pred, k_bn = jax.random.split(rng, 4)
        t, n, d = cfg.steps, cfg.tokens, cfg.encoder.width
        video = jnp.zeros((1, cfg.frames, *cfg.image_size, cfg.encoder.in_chans), jnp.float32)
        states = jnp.zeros((1, t, n, d), jnp.float32)
        params = {
            "encoder": self.encoder.init(k_enc, video)["params"],
            "predictor": self.predictor.init(
                k_pred, states[:, :-1], jnp.zeros((1, t - 1, cfg.bottleneck.latent_dim)))["params"],
            "bottleneck": bottlenecks.init_params(cfg.bottleneck, k_bn),
        }
        if self.idm is not None:
            params["idm"] = self.idm.init(k_idm, states)["params"]
        return params

    def init_bottleneck_state(self):
        return bottlenecks.init_state(self.config.bottleneck)

    # -- the four verbs ---------------------------------------------------------------
    def encode(self, params: Params, video) -> jax.Array:
        """Video (B, F, H, W, C), uint8 RGB or [0, 255] floats -> states (B, T, N, D)."""
        check_video_shape(self.config.encoder, video.shape)
        states = self.encoder.apply({"params": params["encoder"]}, normalize_pixels(video))
        if self.config.normalize_states:
            states = _layer_norm(states)
        return states

    def infer_actions(self, params: Params, states, rng=None, train: bool = False,
                      axis_name=None) -> BottleneckOutput:
        """States (B, T, N, D) -> BottleneckOutput with z of shape (B, T-1, A).

        At inference (train=False) the noisy bottleneck returns its mean, no rng needed.
        """
        b, t = states.shape[:2]
        cfg = self.config.bottleneck
        if self.config.conditioning == "actions":
            raise ValueError("an action-conditioned model (conditioning 'actions') infers no latent "
                             "actions: its predictor takes the real actions")
        if self.idm is None:  # deterministic: the predictor gets no information
            z = jnp.zeros((b, t - 1, cfg.latent_dim), jnp.float32)
            return BottleneckOutput(z, jnp.zeros((), jnp.float32), {})
        raw = self.idm.apply({"params": params["idm"]}, states)
        if rng is None and train and cfg.kind == "noisy":
            raise ValueError("the noisy bottleneck samples in training: pass rng")
        return bottlenecks.apply(cfg, params["bottleneck"], raw, rng, train, axis_name)

    def predict(self, params: Params, states, latents) -> jax.Array:
        """Teacher-forced: states (B, T, N, D), latents (B, T, A) -> (B, T, N, D), where
        output t predicts s_{t+1} from s_{0:t} and z_{0:t}."""
        return self.predictor.apply({"params": params["predictor"]}, states, latents)

    def rollout(self, params: Params, context_states, latents, context_latents=None,
                cache: bool = True) -> jax.Array:
        """Autoregressive prediction of H future states.

        context_states (B, C, N, D); latents (B, H, A) drive the transitions from the last
        context state on; context_latents (B, C-1, A) are the context's own transitions
        (inferred with the IDM from the context when None). Returns (B, H, N, D).
        """
        return self.rollout_driven(params, context_states, latents.shape[1],
                                   lambda i, last: latents[:, i], context_latents, latents.shape[-1],
                                   cache=cache)

    def rollout_driven(self, params: Params, context_states, horizon: int, next_latent,
                       context_latents=None, latent_dim: int | None = None,
                       cache: bool = True) -> jax.Array:
        """rollout with each latent chosen from the state it acts on: z_i =
        next_latent(i, s_hat_i), s_hat_i (B, N, D) being the last state known or predicted
        before transition i (a controller's input: planning). Returns (B, horizon, N, D).

        cache=True keeps the predictor's keys and values of earlier steps, so each step
        after the first runs the predictor on the newest state's tokens only; cache=False
        re-runs it over the whole sequence every step (the reference the cache is tested
        against).
        """
        b, c, n, d = context_states.shape
        a = latent_dim or self.config.bottleneck.latent_dim
        if context_latents is None:
            context_latents = (self.infer_actions(params, context_states).z if c > 1
                               else jnp.zeros((b, 0, a), jnp.float32))
        if cache:
            return self._rollout_cached(params, context_states, horizon, next_latent, context_latents)
        # Slot c-1+i of `lat` drives s_{c-1+i} -> s_{c+i}; the causal mask lets the
        # predictor's output c-1+i see only states and latents filled in by then.
        lat = jnp.zeros((b, c + horizon - 1, a), jnp.float32).at[:, :c - 1].set(context_latents)
        buf = jnp.zeros((b, c + horizon, n, d), jnp.float32).at[:, :c].set(context_states)

        def step(i, carry):
            buf, lat = carry
            last = jax.lax.dynamic_index_in_dim(buf, c - 1 + i, axis=1, keepdims=False)
            z = next_latent(i, last).astype(jnp.float32)
            lat = jax.lax.dynamic_update_slice_in_dim(lat, z[:, None], c - 1 + i, 1)
            pred = self.predict(params, buf[:, :-1], lat)
            nxt = jax.lax.dynamic_index_in_dim(pred, c - 1 + i, axis=1, keepdims=True)
            return jax.lax.dynamic_update_slice_in_dim(buf, nxt, c + i, 1), lat

        buf, _ = jax.lax.fori_loop(0, horizon, step, (buf, lat))
        return buf[:, c:]

    def _rollout_cached(self, params, context_states, horizon, next_latent, context_latents):
        b, c, n, d = context_states.shape
        steps = c + horizon - 1  # the predictor's input steps: context, then predictions

        def run(states, latents, start, cache):  # -> (predictions, {"cache": updated})
            return self.predictor.apply(
                {"params": params["predictor"], **cache}, states, latents.astype(jnp.float32),
                cache_steps=steps, start_step=start, mutable=["cache"])

        # The context in one call (it fills the cache), then one new state per step.
        z = next_latent(0, context_states[:, -1]).astype(jnp.float32)
        out, cache = run(context_states, jnp.concatenate([context_latents, z[:, None]], 1), 0, {})
        preds = jnp.zeros((b, horizon, n, d), jnp.float32).at[:, 0].set(out[:, -1])

        def step(i, carry):
            preds, cache = carry
            last = jax.lax.dynamic_index_in_dim(preds, i - 1, axis=1, keepdims=True)
            z = next_latent(i, last[:, 0]).astype(jnp.float32)
            out, cache = run(last, z[:, None], c - 1 + i, cache)
            return jax.lax.dynamic_update_slice_in_dim(preds, out, i, 1), cache

        preds, _ = jax.lax.fori_loop(1, horizon, step, (preds, cache))
        return preds


def _layer_norm(x, eps=1e-6):
    x = x.astype(jnp.float32)
    mean = jnp.mean(x, -1, keepdims=True)
    var = jnp.var(x, -1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps)

