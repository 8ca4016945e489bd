"""Weight import: parity with Hugging Face's VJEPA2Model, through the real converter.

A small random VJEPA2Config is built offline (no hub access), saved the two ways
users hold V-JEPA 2 weights (HF safetensors directory; original vjepa2 .pt with a
fused qkv), converted with tools/convert_vjepa2.py to Orbax, loaded back and run.
"""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the [convert] extra (torch) is not installed")
transformers = pytest.importorskip("transformers", reason="the [convert] extra (transformers) is not installed")

import jax.numpy as jnp  # noqa: E402

from lawm_jax.checkpoint import load_encoder  # noqa: E402
from lawm_jax.models import vjepa2_import  # noqa: E402
from lawm_jax.models.encoder import VideoEncoder  # noqa: E402
from tools import convert_vjepa2  # noqa: E402


@pytest.fixture(scope="module")
def hf_model():
    torch.manual_seed(0)
    cfg = transformers.VJEPA2Config(
        crop_size=32, frames_per_clip=4, patch_size=8, tubelet_size=2, hidden_size=128,
        num_attention_heads=2, num_hidden_layers=2, mlp_ratio=2.5, pred_hidden_size=32,
        pred_num_attention_heads=2, pred_num_hidden_layers=1)
    model = transformers.VJEPA2Model(cfg).eval()
    with torch.no_grad():  # larger than the 0.02 init, so that RoPE visibly matters
        for name, p in model.named_parameters():
            if "attention.query" in name or "attention.key" in name:
                p.normal_(0.0, 0.3)
    return model


def hf_reference(model, video_btchw):
    with torch.no_grad():
        return model(torch.from_numpy(video_btchw), skip_predictor=True).last_hidden_state.numpy()


def run_ours(ckpt_dir, video_btchw, mode="bidirectional"):
    params, cfg = load_encoder(ckpt_dir)
    import dataclasses
    cfg = dataclasses.replace(cfg, mode=mode)
    out = VideoEncoder(cfg).apply({"params": params}, jnp.asarray(video_btchw.transpose(0, 1, 3, 4, 2)))
    return np.asarray(out).reshape(out.shape[0], -1, out.shape[-1])


def video(seed=0):
    return np.random.default_rng(seed).normal(size=(2, 4, 3, 32, 32)).astype(np.float32)


def test_parity_from_hf_safetensors(hf_model, tmp_path):
    hf_model.save_pretrained(tmp_path / "hf")  # config.json + model.safetensors
    cfg = convert_vjepa2.convert(str(tmp_path / "hf"), str(tmp_path / "orbax"))
    assert (cfg.width, cfg.depth, cfg.num_heads, cfg.mlp_hidden, cfg.patch) == (128, 2, 2, 320, 8)
    ref, ours = hf_reference(hf_model, video()), run_ours(str(tmp_path / "orbax"), video())
    assert np.abs(ours - ref).max() < 1e-4, np.abs(ours - ref).max()


def to_original_layout(model):
    """The original vjepa2 names: module.backbone.blocks.i.attn.qkv (fused)..."""
    sd = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("encoder.")}
    out = {}
    for i in range(model.config.num_hidden_layers):
        pre = f"encoder.layer.{i}."
        for kind in ("weight", "bias"):
            out[f"module.backbone.blocks.{i}.attn.qkv.{kind}"] = torch.cat(
                [sd.pop(pre + f"attention.{n}.{kind}") for n in ("query", "key", "value")])
    for key, value in sd.items():
        key = (key.replace("encoder.layer.", "blocks.").replace("attention.proj", "attn.proj")
               .replace("encoder.embeddings.patch_embeddings.proj", "patch_embed.proj")
               .replace("encoder.layernorm", "norm"))
        out["module.backbone." + key] = value
    out["module.backbone.pos_embed"] = torch.zeros(1, 4, 128)  # present in some releases; unused
    return out


def test_parity_from_original_pt(hf_model, tmp_path):
    torch.save({"target_encoder": to_original_layout(hf_model), "epoch": 1}, tmp_path / "vit.pt")
    convert_vjepa2.convert(str(tmp_path / "vit.pt"), str(tmp_path / "orbax"), num_heads=2)
    ref, ours = hf_reference(hf_model, video(1)), run_ours(str(tmp_path / "orbax"), video(1))
    assert np.abs(ours - ref).max() < 1e-4, np.abs(ours - ref).max()


def test_frame_causal_step_zero_is_the_reference_on_the_first_tubelet(hf_model, tmp_path):
    """Masked public weights: s_0 is exactly what Hugging Face computes from the first
    two frames alone, and differs from the bidirectional s_0 on the whole clip."""
    hf_model.save_pretrained(tmp_path / "hf")
    convert_vjepa2.convert(str(tmp_path / "hf"), str(tmp_path / "orbax"))
    causal = run_ours(str(tmp_path / "orbax"), video(), "frame_causal").reshape(2, 2, 16, 128)
    first = hf_reference(hf_model, video()[:, :2])
    assert np.abs(causal[:, 0] - first).max() < 1e-4
    full = hf_reference(hf_model, video()).reshape(2, 2, 16, 128)
    assert np.abs(causal[:, 0] - full[:, 0]).max() > 1e-3  # bidirectional s_0 saw frames 2-3


def test_bad_checkpoints_get_clear_errors(hf_model, tmp_path):
    state = {k: v.numpy() for k, v in hf_model.state_dict().items()}
    cfg = vjepa2_import.infer_config(state, num_heads=2)
    import dataclasses
    with pytest.raises(ValueError, match="tensors were not used"):
        vjepa2_import.hf_to_params(state, dataclasses.replace(cfg, depth=1))
    with pytest.raises(ValueError, match="missing tensor encoder.layer.2"):
        vjepa2_import.hf_to_params(state, dataclasses.replace(cfg, depth=3))
    with pytest.raises(ValueError, match="not a V-JEPA 2 encoder checkpoint"):
        vjepa2_import.infer_config({"foo": np.zeros(3)})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert_vjepa2.convert(str(tmp_path / "nope.pt"), str(tmp_path / "out"))
    # A pickle that is not plain weights is refused, never executed.
    torch.save({"target_encoder": {"x": object()}}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="weights-only"):
        convert_vjepa2.convert(str(tmp_path / "evil.pt"), str(tmp_path / "out"))
    assert not os.path.exists(tmp_path / "out")  # nothing half-written
    hf_model.save_pretrained(tmp_path / "hf")
    convert_vjepa2.convert(str(tmp_path / "hf"), str(tmp_path / "orbax"))
    with pytest.raises(FileExistsError):  # never overwrites a checkpoint
        convert_vjepa2.convert(str(tmp_path / "hf"), str(tmp_path / "orbax"))


def test_encoder_checkpoint_must_match_the_config(hf_model, tmp_path):
    hf_model.save_pretrained(tmp_path / "hf")
    cfg = convert_vjepa2.convert(str(tmp_path / "hf"), str(tmp_path / "orbax"))
    import dataclasses
    with pytest.raises(ValueError, match="depth: checkpoint 2 vs config 24"):
        load_encoder(str(tmp_path / "orbax"), dataclasses.replace(cfg, depth=24))
