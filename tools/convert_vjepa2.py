"""Converts a V-JEPA 2 encoder checkpoint into an Orbax checkpoint for lawm_jax.

    # Hugging Face (a model directory with config.json + *.safetensors, or one file)
    python tools/convert_vjepa2.py --input /models/vjepa2-vitl-fpc64-256 --output /ckpt/vitl
    # the original release (vitl.pt, vith.pt, vitg.pt), read with weights_only=True
    python tools/convert_vjepa2.py --input vitl.pt --output /ckpt/vitl

Then point a run at it: --config.model.encoder_checkpoint=/ckpt/vitl. The architecture
is read off the tensors (heads default to width / 64, true of every V-JEPA 2 size, or
taken from config.json); --num_heads overrides. Needs the [convert] extra.
"""
from __future__ import annotations

import glob
import json
import os
import sys

from absl import app, flags

from lawm_jax.checkpoint import save_encoder
from lawm_jax.models import vjepa2_import
from lawm_jax.cli import run_main

_INPUT = flags.DEFINE_string("input", None, "safetensors file, HF model directory, or original .pt")
_OUTPUT = flags.DEFINE_string("output", None, "new directory for the Orbax encoder checkpoint")
_KEY = flags.DEFINE_string("checkpoint_key", "target_encoder",
                           "entry of an original .pt holding the encoder (target_encoder or encoder)")
_HEADS = flags.DEFINE_integer("num_heads", None, "attention heads (default: config.json or width/64)")


def read_safetensors(paths):
    from safetensors.numpy import load_file
    state = {}
    for path in paths:
        state.update(load_file(path))
    return state


def read_original(path, key):
    """Reads an original vjepa2 .pt without unrestricted unpickling."""
    import torch
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- torch raises several types here
        first = str(e).strip().split(". ")[0].splitlines()[0][:200] if str(e).strip() else ""  # torch's run on
        raise ValueError(f"{path}: cannot be read as a weights-only PyTorch checkpoint ({type(e).__name__}: "
                         f"{first}); --input takes an original V-JEPA 2 .pt, a .safetensors file or a Hugging "
                         "Face model folder") from None
    if key in ckpt:
        ckpt = ckpt[key]
    elif "encoder" in ckpt and key == "target_encoder":
        ckpt = ckpt["encoder"]
    if not isinstance(ckpt, dict) or not ckpt:
        raise ValueError(f"{path}: no encoder state dict under {key!r}; top-level keys are "
                         f"{sorted(ckpt)[:10] if isinstance(ckpt, dict) else type(ckpt)}")
    return vjepa2_import.original_to_hf({k: v.float().numpy() for k, v in ckpt.items()})


def read_checkpoint(path: str, key: str = "target_encoder"):
    """Returns (HF-named numpy state dict, num_heads from a config.json or None)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"--input {path} does not exist")
    heads = None
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "*.safetensors")))
        if not files:
            raise FileNotFoundError(f"{path} holds no *.safetensors files")
        cfg_path = os.path.join(path, "config.json")
        if os.path.exists(cfg_path):
            with open(cfg_path) as f:
                heads = json.load(f).get("num_attention_heads")
        return read_safetensors(files), heads
    if path.endswith(".safetensors"):
        return read_safetensors([path]), heads
    if path.endswith((".pt", ".pth", ".pth.tar")):
        return read_original(path, key), heads
    raise ValueError(f"--input {path}: expected a .safetensors file, a model directory or a .pt file")


def convert(input_path: str, output_dir: str, key: str = "target_encoder", num_heads: int | None = None):
    """Reads, maps and writes; returns the EncoderConfig written."""
    state, heads = read_checkpoint(input_path, key)
    cfg = vjepa2_import.infer_config(state, num_heads=num_heads or heads)
    params = vjepa2_import.hf_to_params(state, cfg)
    save_encoder(output_dir, params, cfg)
    return cfg


def main(argv):
    del argv
    if not _INPUT.value or not _OUTPUT.value:
        raise app.UsageError("both --input and --output are required")
    try:
        cfg = convert(_INPUT.value, _OUTPUT.value, _KEY.value, _HEADS.value)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"convert_vjepa2: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"wrote {_OUTPUT.value}: width {cfg.width}, depth {cfg.depth}, heads {cfg.num_heads}, "
          f"patch {cfg.patch}, tubelet {cfg.tubelet}")


if __name__ == "__main__":
    run_main(main)  # a missing file or package (torch, safetensors): one line (--debug: its traceback)
