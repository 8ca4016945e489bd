"""V-JEPA 2 encoder weights -> VideoEncoder parameters (numpy only; no torch here).

Two source layouts are understood, both as flat {name: array} dicts:
  * Hugging Face `VJEPA2Model` (safetensors): `encoder.layer.{i}.attention.query.weight`...
  * the original facebookresearch/vjepa2 checkpoint (`vitl.pt` etc.): under
    "target_encoder" (or "encoder"), `module.backbone.blocks.{i}.attn.qkv.weight`...
    with a fused qkv projection, which is split here.
The key map is strict: every encoder parameter must be filled with the right shape and
every source tensor must be used or known to be irrelevant; all problems are reported
together in one error.
"""
from __future__ import annotations

import re

import numpy as np

from lawm_jax.models.encoder import EncoderConfig

# Source tensors that exist in checkpoints but not in a RoPE encoder.
_IGNORED = re.compile(r"^(predictor\.|pooler\.|classifier\.|pos_embed$|mask_tokens|.*\.pos_embed$)")


def original_to_hf(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Renames an original vjepa2 encoder state dict to Hugging Face names."""
    out = {}
    for key, value in state.items():
        key = key.replace("module.", "").replace("backbone.", "")
        m = re.fullmatch(r"blocks\.(\d+)\.attn\.qkv\.(weight|bias)", key)
        if m:
            q, k, v = np.split(value, 3, axis=0)  # fused rows are [q; k; v]
            for name, part in zip(("query", "key", "value"), (q, k, v)):
                out[f"encoder.layer.{m[1]}.attention.{name}.{m[2]}"] = part
            continue
        key = re.sub(r"^blocks\.(\d+)\.attn\.proj\.", r"encoder.layer.\1.attention.proj.", key)
        key = re.sub(r"^blocks\.(\d+)\.", r"encoder.layer.\1.", key)
        key = re.sub(r"^patch_embed\.proj\.", "encoder.embeddings.patch_embeddings.proj.", key)
        key = re.sub(r"^norm\.", "encoder.layernorm.", key)
        out[key] = value
    return out


def _strip_prefix(state):
    """Drops wrappers such as `vjepa2.` (classification models) before `encoder.`."""
    out = {}
    for key, value in state.items():
        i = key.find("encoder.")
        out[key[i:] if i > 0 and not key.startswith("predictor.") else key] = value
    return out


def infer_config(state: dict[str, np.ndarray], num_heads: int | None = None, **overrides) -> EncoderConfig:
    """Reads the architecture off the tensor shapes (HF names). Heads default to width/64,
    the head dim of every V-JEPA 2 size; pass num_heads for anything else."""
    state = _strip_prefix(state)
    try:
        w = state["encoder.embeddings.patch_embeddings.proj.weight"]
    except KeyError:
        raise ValueError("no patch embedding ('encoder.embeddings.patch_embeddings.proj.weight' or "
                         "'patch_embed.proj.weight'): this is not a V-JEPA 2 encoder checkpoint") from None
    width, chans, tubelet, patch, _ = w.shape
    depth = len({k.split(".")[2] for k in state if k.startswith("encoder.layer.")})
    mlp_hidden = state["encoder.layer.0.mlp.fc1.weight"].shape[0]
    heads = num_heads or width // 64
    return EncoderConfig(width=width, depth=depth, num_heads=heads, mlp_hidden=mlp_hidden, patch=patch,
                         tubelet=tubelet, in_chans=chans, **overrides)


def hf_to_params(state: dict[str, np.ndarray], cfg: EncoderConfig) -> dict:
    """Hugging Face-named tensors -> the VideoEncoder parameter tree (float32 numpy)."""
    state = {k: np.asarray(v, np.float32) for k, v in _strip_prefix(state).items()}
    h, d = cfg.num_heads, cfg.width
    k = d // h
    used, errors = set(), []

    def take(name, shape, transform=lambda x: x):
        if name not in state:
            errors.append(f"missing tensor {name}")
            return np.zeros(shape, np.float32)
        used.add(name)
        value = transform(state[name])
        if value.shape != tuple(shape):
            errors.append(f"{name}: shape {state[name].shape} does not fit the encoder "
                          f"(needs {tuple(shape)} after conversion)")
            return np.zeros(shape, np.float32)
        return value

    pe = "encoder.embeddings.patch_embeddings.proj"
    params = {
        "patch_embeddings": {
            # torch Conv3d (D, C, t, p, p) -> (t, p, p, C, D)
            "kernel": take(f"{pe}.weight", (cfg.tubelet, cfg.patch, cfg.patch, cfg.in_chans, d),
                           lambda x: x.transpose(2, 3, 4, 1, 0)),
            "bias": take(f"{pe}.bias", (d,)),
        },
        "layernorm": {"scale": take("encoder.layernorm.weight", (d,)),
                      "bias": take("encoder.layernorm.bias", (d,))},
    }
    for i in range(cfg.depth):
        src = f"encoder.layer.{i}"
        att = {name: {"kernel": take(f"{src}.attention.{name}.weight", (d, h, k),
                                     lambda x: x.T.reshape(d, h, k)),
                      "bias": take(f"{src}.attention.{name}.bias", (h, k), lambda x: x.reshape(h, k))}
               for name in ("query", "key", "value")}
        att["proj"] = {"kernel": take(f"{src}.attention.proj.weight", (h, k, d),
                                      lambda x: x.T.reshape(h, k, d)),
                       "bias": take(f"{src}.attention.proj.bias", (d,))}
        params[f"layer_{i}"] = {
            "norm1": {"scale": take(f"{src}.norm1.weight", (d,)), "bias": take(f"{src}.norm1.bias", (d,))},
            "norm2": {"scale": take(f"{src}.norm2.weight", (d,)), "bias": take(f"{src}.norm2.bias", (d,))},
            "attention": att,
            "mlp": {"fc1": {"kernel": take(f"{src}.mlp.fc1.weight", (d, cfg.mlp_hidden), np.transpose),
                            "bias": take(f"{src}.mlp.fc1.bias", (cfg.mlp_hidden,))},
                    "fc2": {"kernel": take(f"{src}.mlp.fc2.weight", (cfg.mlp_hidden, d), np.transpose),
                            "bias": take(f"{src}.mlp.fc2.bias", (d,))}},
        }
    unused = sorted(n for n in state if n not in used and not _IGNORED.match(n))
    if unused:
        errors.append(f"{len(unused)} tensors were not used, e.g. {unused[:5]} (does depth "
                      f"{cfg.depth} match the checkpoint?)")
    if errors:
        raise ValueError("V-JEPA 2 weights do not fit the encoder config:\n  " + "\n  ".join(errors))
    return params
