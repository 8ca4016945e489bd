"""A PyTorch (CPU, float32) version of lawm_jax's LAM train step, for timing only; and
the pretrained AlexNet encoder kind's forward, the reference its parity test and the
benchmark compare with.

A benchmark times one LAM update in JAX and in PyTorch side by side; this module is the
PyTorch side, with the same shapes and the same arithmetic: the frozen V-JEPA 2 encoder
(Hugging Face's `VJEPA2Model`) and LayerNorm'd states, the IDM (a ViT over each pair of
states plus an [ACT] token), the bottleneck, the AdaLN-zero predictor under the
block-causal mask, 3D RoPE in V-JEPA 2's tiled layout, the teacher-forced L1 loss,
global-norm clipping, then Muon for the blocks' hidden matrices and AdamW for the rest.

It is a timing reference, not a numerical twin of a training run: the weights are random
(initialised as Flax does, not loaded), Hugging Face's encoder is bidirectional where
lawm_jax's default is frame-causal (the same matmuls, without the block-causal mask), and
lawm_jax's skipping of non-finite steps is left out. Given the same IDM and predictor
weights and the same states, the loss is lawm_jax's (tests/tools/test_torch_reference.py).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from torch import nn

from lawm_jax.models.attention import grid_positions, rope_axis_dim, step_causal_mask
from lawm_jax.models.bottlenecks import raw_dim
from lawm_jax.models.encoder import IMAGENET_MEAN, IMAGENET_STD
from lawm_jax.models.layers import LN_EPS
from lawm_jax.models.lpips import ALEXNET
from lawm_jax.train.optimizer import NS_COEFFS, NS_STEPS


def hf_encoder(enc_cfg, image_size: int, frames: int) -> transformers.VJEPA2Model:
    """A random VJEPA2Model (eval mode) with lawm_jax's encoder sizes; its predictor, which
    `skip_predictor=True` never runs, is as small as the config allows."""
    kwargs = dict(
        hidden_size=enc_cfg.width, num_hidden_layers=enc_cfg.depth, num_attention_heads=enc_cfg.num_heads,
        # HF builds int(width * ratio) hidden units: the +0.5 keeps float rounding from losing one.
        mlp_ratio=(enc_cfg.mlp_hidden + 0.5) / enc_cfg.width, patch_size=enc_cfg.patch,
        tubelet_size=enc_cfg.tubelet, in_chans=enc_cfg.in_chans, crop_size=image_size, frames_per_clip=frames,
        layer_norm_eps=LN_EPS, qkv_bias=True, hidden_act="gelu", pred_hidden_size=12,
        pred_num_attention_heads=1, pred_num_hidden_layers=1, pred_num_mask_tokens=1, pred_mlp_ratio=1.0)
    try:
        cfg = transformers.VJEPA2Config(**kwargs, attn_implementation="sdpa")
    except (TypeError, ValueError):
        cfg = transformers.VJEPA2Config(**kwargs)
    return transformers.VJEPA2Model(cfg).eval()


def alexnet_features(params: dict, video_BFHWC: np.ndarray) -> torch.Tensor:
    """The "alexnet" encoder kind in PyTorch: normalised frames (B, F, H, W, 3) through the
    convolutions in `params` (VideoEncoder's layout: alexnet/conv1..k, flax kernels),
    frame by frame -> states (B, F, tokens, channels), tokens row-major."""
    b, f, h, w, c = video_BFHWC.shape
    x = torch.from_numpy(np.ascontiguousarray(video_BFHWC, np.float32).reshape(b * f, h, w, c)).permute(0, 3, 1, 2)
    convs = params["alexnet"]
    for k, (_, _, stride, pad) in enumerate(ALEXNET[:len(convs)]):
        x = F.max_pool2d(x, 3, 2) if k in (1, 2) else x
        kernel = torch.from_numpy(np.ascontiguousarray(np.asarray(convs[f"conv{k + 1}"]["kernel"]).transpose(3, 2, 0, 1)))
        x = F.relu(F.conv2d(x, kernel, torch.from_numpy(np.array(convs[f"conv{k + 1}"]["bias"])), stride=stride,
                            padding=pad))
    return x.permute(0, 2, 3, 1).reshape(b, f, -1, x.shape[1])


def rope_tables(positions_L3: np.ndarray, head_dim: int):
    """cos, sin (L, 3d) for the rotated channels: d = rope_axis_dim per axis (t, h, w), each
    axis's d/2 frequencies tiled (not interleaved), as lawm_jax.models.attention._rotate."""
    d = rope_axis_dim(head_dim)
    omega = 1.0 / 10000.0 ** (torch.arange(d // 2, dtype=torch.float32) / (d / 2.0))
    pos = torch.as_tensor(positions_L3, dtype=torch.float32)
    angle = torch.cat([(pos[:, i, None] * omega).repeat(1, 2) for i in range(3)], -1)
    return angle.cos(), angle.sin()


def _register_rope(module, positions_L3, head_dim):
    cos, sin = rope_tables(positions_L3, head_dim)  # constants, computed once
    module.register_buffer("cos", cos, persistent=False)
    module.register_buffer("sin", sin, persistent=False)


def apply_rope(x_BHLK, cos, sin):
    """Rotates channel pairs (2i, 2i+1) of the first 3d channels; the rest stay."""
    r = cos.shape[-1]
    x, rest = x_BHLK[..., :r], x_BHLK[..., r:]
    pairs = x.unflatten(-1, (-1, 2))
    swapped = torch.stack([-pairs[..., 1], pairs[..., 0]], -1).flatten(-2)
    return torch.cat([x * cos + swapped * sin, rest], -1)


class Attention(nn.Module):
    """Separate q/k/v/proj Linears with biases (Flax's DenseGeneral kernels, flattened)."""

    def __init__(self, width, num_heads):
        super().__init__()
        self.heads = num_heads
        self.query, self.key, self.value, self.proj = (nn.Linear(width, width) for _ in range(4))

    def forward(self, x_BLD, rope, mask=None):
        b, L, d = x_BLD.shape
        split = lambda y: y.view(b, L, self.heads, -1).transpose(1, 2)  # noqa: E731  (B, H, L, K)
        q, k, v = split(self.query(x_BLD)), split(self.key(x_BLD)), split(self.value(x_BLD))
        q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # mask True = attend, as in JAX
        return self.proj(out.transpose(1, 2).reshape(b, L, d))


class Mlp(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, hidden), nn.Linear(hidden, width)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact GELU


class Block(nn.Module):
    """Pre-norm block (lawm_jax.models.layers.Block)."""

    def __init__(self, cfg):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(cfg.width, eps=LN_EPS), nn.LayerNorm(cfg.width, eps=LN_EPS)
        self.attention, self.mlp = Attention(cfg.width, cfg.num_heads), Mlp(cfg.width, cfg.mlp_hidden)

    def forward(self, x, rope, mask=None):
        x = x + self.attention(self.norm1(x), rope, mask)
        return x + self.mlp(self.norm2(x))


class AdaLNZeroBlock(nn.Module):
    """Per-step shift/scale/gate from silu(cond) (lawm_jax.models.layers.AdaLNZeroBlock)."""

    def __init__(self, cfg):
        super().__init__()
        self.modulation = nn.Linear(cfg.width, 6 * cfg.width)
        self.attention, self.mlp = Attention(cfg.width, cfg.num_heads), Mlp(cfg.width, cfg.mlp_hidden)

    def forward(self, x_BTND, cond_BTC, rope, mask):
        b, t, n, d = x_BTND.shape
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(F.silu(cond_BTC))[:, :, None].chunk(6, -1)
        h = F.layer_norm(x_BTND, (d,), eps=LN_EPS) * (1 + scale1) + shift1
        x_BTND = x_BTND + gate1 * self.attention(h.reshape(b, t * n, d), rope, mask).view(b, t, n, d)
        h = F.layer_norm(x_BTND, (d,), eps=LN_EPS) * (1 + scale2) + shift2
        return x_BTND + gate2 * self.mlp(h)


class IDM(nn.Module):
    """lawm_jax.models.idm.InverseDynamics: each transition's 2N tokens + [ACT], full attention."""

    def __init__(self, cfg, in_width, out_dim, grid):
        super().__init__()
        self.embed, self.head = nn.Linear(in_width, cfg.width), nn.Linear(cfg.width, out_dim)
        self.which_step = nn.Parameter(torch.randn(2, 1, cfg.width) * 0.02)
        self.act_token = nn.Parameter(torch.randn(1, 1, cfg.width) * 0.02)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.width, eps=LN_EPS)
        positions = np.concatenate([np.zeros((1, 3), np.float32), grid_positions(2, *grid)])  # [ACT] at 0
        _register_rope(self, positions, cfg.width // cfg.num_heads)

    def forward(self, states_BTND):
        b, t, n, _ = states_BTND.shape
        x = self.embed(states_BTND)
        pair = torch.cat([x[:, :-1] + self.which_step[0], x[:, 1:] + self.which_step[1]], 2)
        pair = pair.reshape(b * (t - 1), 2 * n, -1)
        x = torch.cat([self.act_token.expand(pair.shape[0], 1, -1), pair], 1)
        for layer in self.layers:
            x = layer(x, (self.cos, self.sin))
        return self.head(self.norm(x[:, 0])).view(b, t - 1, -1)


class Predictor(nn.Module):
    """lawm_jax.models.predictor.Predictor, teacher-forced over `steps` input steps."""

    def __init__(self, cfg, encoder_width, latent_dim, grid, steps):
        super().__init__()
        self.residual = cfg.residual
        self.embed, self.action_embed = nn.Linear(encoder_width, cfg.width), nn.Linear(latent_dim, cfg.width)
        self.layers = nn.ModuleList(AdaLNZeroBlock(cfg) for _ in range(cfg.depth))
        self.norm, self.proj = nn.LayerNorm(cfg.width, eps=LN_EPS), nn.Linear(cfg.width, encoder_width)
        _register_rope(self, grid_positions(steps, *grid), cfg.width // cfg.num_heads)
        # Built once, as XLA folds the constant mask into the compiled step.
        self.register_buffer("mask", torch.as_tensor(step_causal_mask(steps, grid[0] * grid[1])), persistent=False)

    def forward(self, states_BTND, latents_BTA):
        x, cond = self.embed(states_BTND), self.action_embed(latents_BTA)
        for layer in self.layers:
            x = layer(x, cond, (self.cos, self.sin), self.mask)
        out = self.proj(self.norm(x))
        return states_BTND + out if self.residual else out


def _init_like_flax(module):
    """Flax's defaults: lecun-normal kernels, zero biases; AdaLN modulation zero (identity
    blocks at init); the residual predictor's head zero (it starts as a copy)."""
    for name, m in module.named_modules():
        if isinstance(m, nn.Linear):
            std = m.in_features ** -0.5 / 0.87962566  # the std of a normal truncated at 2 sigma
            nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
            if name.endswith("modulation") or (name == "predictor.proj" and module.predictor.residual):
                nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)


class TorchLAM(nn.Module):
    """Frozen HF encoder + IDM + bottleneck + predictor; forward(video) is the LAM loss."""

    def __init__(self, cfg):
        super().__init__()
        h, w = cfg.image_size
        if h != w or cfg.encoder.mode == "per_frame":
            raise ValueError("Hugging Face's VJEPA2 encodes square crops of whole tubelets only; got "
                             f"{cfg.image_size} in mode {cfg.encoder.mode!r}")
        if cfg.bottleneck.kind not in ("noisy", "sparse", "unconstrained", "deterministic"):
            raise ValueError(f"bottleneck kind {cfg.bottleneck.kind!r} is not implemented here")
        self.cfg, self.grid = cfg, cfg.grid
        self.encoder = hf_encoder(cfg.encoder, h, cfg.frames).requires_grad_(False)
        out = raw_dim(cfg.bottleneck)  # 0: no IDM (deterministic)
        self.idm = IDM(cfg.idm, cfg.encoder.width, out, self.grid) if out else None
        self.predictor = Predictor(cfg.predictor, cfg.encoder.width, cfg.bottleneck.latent_dim, self.grid,
                                   cfg.steps - 1)
        _init_like_flax(self)
        self.register_buffer("mean", torch.as_tensor(IMAGENET_MEAN), persistent=False)
        self.register_buffer("std", torch.as_tensor(IMAGENET_STD), persistent=False)

    @torch.no_grad()
    def encode(self, video_uint8_BFHWC):
        """uint8 (B, F, H, W, C) -> states (B, T, N, D), no gradient (frozen encoder)."""
        x = (torch.as_tensor(video_uint8_BFHWC).float() / 255.0 - self.mean) / self.std
        out = self.encoder(x.permute(0, 1, 4, 2, 3), skip_predictor=True).last_hidden_state
        states = out.view(out.shape[0], -1, self.grid[0] * self.grid[1], out.shape[-1])
        return F.layer_norm(states, states.shape[-1:], eps=LN_EPS) if self.cfg.normalize_states else states

    def latents(self, states_BTND):
        """(z, bottleneck loss), as lawm_jax.models.bottlenecks.apply; noisy samples in train mode."""
        bn = self.cfg.bottleneck
        if self.idm is None:  # deterministic: z = 0
            b, t = states_BTND.shape[:2]
            return states_BTND.new_zeros(b, t - 1, bn.latent_dim), 0.0
        raw = self.idm(states_BTND)
        if bn.kind == "noisy":
            mu, logvar = raw.chunk(2, -1)
            kl = 0.5 * (mu ** 2 + logvar.exp() - logvar - 1.0)  # summed over dims, mean over latents
            z = mu + (logvar / 2).exp() * torch.randn_like(mu) if self.training else mu
            return z, bn.beta * kl.sum() / (kl.numel() // kl.shape[-1])
        return raw, (sparse_loss(raw, bn) if bn.kind == "sparse" else 0.0)  # unconstrained: no loss

    def loss_from_states(self, states_BTND):
        z, latent_loss = self.latents(states_BTND)
        pred = self.predictor(states_BTND[:, :-1], z)
        return (pred - states_BTND[:, 1:]).abs().mean() + latent_loss

    def forward(self, video_uint8_BFHWC):
        return self.loss_from_states(self.encode(video_uint8_BFHWC))


def sparse_loss(z, cfg):
    """lawm_jax.models.bottlenecks.sparse_loss (energy + VCM) for one device."""
    z = z.reshape(-1, z.shape[-1])
    n, d = z.shape
    mean = z.mean(0)
    cov = (z - mean).T @ (z - mean) / (n - 1)
    var = cov.diagonal()
    var_term = F.relu(1.0 - (var + cfg.var_eps).sqrt()).mean()
    cov_term = (cov.pow(2).sum() - var.pow(2).sum()) / (d * (d - 1))
    energy = (cfg.l2 * F.relu(math.sqrt(d) - z.pow(2).sum(-1)) + cfg.l1 * z.abs().sum(-1)).sum() / n
    return energy + cfg.var_coef * var_term + cfg.cov_coef * cov_term + cfg.mean_coef * mean.pow(2).mean()


def trainable_shapes(model: nn.Module) -> dict[str, tuple]:
    return {k: tuple(p.shape) for k, p in model.named_parameters() if p.requires_grad}


def _is_muon(name: str, p) -> bool:
    """lawm_jax's _muon_dims: kernels (2-D weights here) inside the blocks (`layers.i`)."""
    return p.ndim == 2 and ".layers." in name and name.endswith(".weight")


class Muon(torch.optim.Optimizer):
    """torch.optim.Muon's update (Nesterov momentum, 5 Newton-Schulz steps, lr scaled by
    sqrt(max(1, out/in)), decoupled weight decay) with the Newton-Schulz products in
    `ns_dtype`. torch's own runs them in bf16 always: on CPUs without bf16 products that is
    ~50x slower than float32 (tools/benchmark.py measures both; docs/PERFORMANCE.md).
    With bf16 it is torch.optim.Muon step for step (tests/tools/test_torch_reference.py)."""

    def __init__(self, params, lr: float, weight_decay: float, momentum: float = 0.95,
                 ns_dtype: torch.dtype = torch.bfloat16, eps: float = 1e-7):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum))
        self.ns_dtype, self.eps = ns_dtype, eps

    @torch.no_grad()
    def step(self, closure=None):
        a, b, c = NS_COEFFS
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
                buf.lerp_(p.grad, 1 - momentum)
                x = p.grad.lerp(buf, momentum).to(self.ns_dtype)
                tall = x.size(0) > x.size(1)
                x = x.T if tall else x
                x = x / x.norm().clamp(min=self.eps)
                for _ in range(NS_STEPS):
                    gram = x @ x.T
                    x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
                x = x.T if tall else x
                p.mul_(1 - lr * group["weight_decay"])
                p.add_(x.to(p.dtype), alpha=-lr * math.sqrt(max(1.0, p.size(0) / p.size(1))))


def make_optimizer(model: nn.Module, lr: float = 1e-3, weight_decay: float = 0.04,
                   muon_lr: float | None = None, ns_dtype: torch.dtype = torch.bfloat16) -> list[torch.optim.Optimizer]:
    """[Muon (hidden matrices), AdamW (the rest)], both decaying weights, as lawm_jax's:
    Nesterov momentum 0.95 (optax averages where torch sums; Newton-Schulz normalises the
    scale away), 5 Newton-Schulz steps in ns_dtype, lr scaled by sqrt(max(1, out/in)). One
    lr for both unless muon_lr is given (lawm_jax's configs use muon_lr 0.02, adam_lr 6.25e-4)."""
    params = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
    muon = [p for k, p in params if _is_muon(k, p)]
    adam = [p for k, p in params if not _is_muon(k, p)]
    return [Muon(muon, lr=muon_lr or lr, weight_decay=weight_decay, ns_dtype=ns_dtype),
            torch.optim.AdamW(adam, lr=lr, weight_decay=weight_decay)]


def train_step(model: nn.Module, optimizers, video_uint8_BFHWC, clip_norm: float = 1.0) -> float:
    """One LAM update: loss, backward, global-norm clip, optimizer steps. Returns the loss."""
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    loss = model(video_uint8_BFHWC)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], clip_norm)
    for opt in optimizers:
        opt.step()
    return loss.item()
