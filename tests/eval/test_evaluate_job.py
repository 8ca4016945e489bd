"""The evaluate job end to end on a tiny trained model (the session's shared sparse run),
with a decoder and random LPIPS weights: every result file, well-formed, and every
picture drawn and not blank."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from lawm_jax.errors import ConfigError
from lawm_jax.eval.pictures import draw_run
from lawm_jax.eval.run import evaluate
from lawm_jax.train.decoder import train_decoder
from tests.helpers import decoder_config, looks_like_a_picture, own_copy, small_config, write_random_lpips


def evaluate_config():
    """The config sparse_run was trained with, as an evaluate job at a tiny size."""
    c = small_config("sparse", steps=3)
    c.job = "evaluate"
    c.eval.update(max_clips=8, batch=4, pictures=2, sgld_steps=50)
    return c


def test_every_evaluation_the_config_accepts_has_a_function():
    from lawm_jax.eval.run import EVALUATIONS, check_eval
    e = evaluate_config().eval
    e.kinds = ",".join(EVALUATIONS)
    assert check_eval(e) == list(EVALUATIONS) and all(callable(f) for f in EVALUATIONS.values())
    e.kinds = "capacity,nonsense"
    with pytest.raises(ConfigError, match="eval.kinds='capacity,nonsense': name one or more of .*'pictures'"):
        check_eval(e)


def test_evaluate_job_in_representation_space(sparse_run, tmp_path, monkeypatch, caplog):
    from lawm_jax.eval import run
    c, lam = evaluate_config(), str(own_copy(sparse_run.workdir, tmp_path))
    bar = []
    monkeypatch.setattr(run, "progress_bar", lambda done, total, what: bar.append((done, total)))
    with caplog.at_level("INFO"):
        results = evaluate(c, lam)
    assert bar == [(i, 5) for i in range(6)]  # counts up, one evaluation at a time
    assert "| capacity (one-step error) | repr_l1 |" in caplog.text  # the results table, printed
    assert "| sampling (separability, 0.5 = same) |" in caplog.text
    out = os.path.join(lam, "eval")
    summary = json.load(open(os.path.join(out, "results.json")))
    assert summary["clips"] == 8 and summary["bottleneck"] == "sparse"
    assert any("no decoder" in n for n in summary["notices"])
    assert any("states as colours" in n for n in summary["notices"])
    for kind in ("capacity", "leakage", "transfer", "sampling"):
        assert json.load(open(os.path.join(out, f"{kind}.json"))) == summary[kind]
    assert set(summary["capacity"]) == {"model", "copy_last", "clips", "latents"}
    assert summary["capacity"]["latents"]["active_dims"] >= 1  # a trained sparse model's codes
    assert set(summary["capacity"]["model"]) == {"repr_l1"}
    assert summary["leakage"]["cut_step"] == 2 and len(summary["leakage"]["model"]["repr_l1"]["profile"]) == 3
    # The paper's 2 s horizon: 4 steps at 4 fps, after one context step of clips read 5 steps long.
    assert summary["transfer"]["predicted_steps"] == 4 and summary["transfer"]["context_steps"] == 1
    assert summary["transfer"]["predicted_seconds"] == 2.0 and summary["transfer"]["ratio"]["repr_l1"] > 0
    assert "| transfer (cycled / original error, 2 s) | repr_l1 |" in caplog.text
    assert summary["sampling"]["sgld_steps"] == 50 and 0 <= summary["sampling"]["separability"] <= 1
    assert any(n.startswith("sampling: the Langevin chains had not converged") for n in summary["notices"])
    assert results["sampling"]["inferred"].shape == (8 * 3, 16)  # 8 clips x 3 transitions
    for name in ("leakage_profile.png", "latent_embedding.png"):
        looks_like_a_picture(os.path.join(out, name))
    grid = Image.open(os.path.join(out, "transfer_0.png"))  # states as colours: 5 rows of 4 steps
    assert grid.size[1] == 26 + 5 * (4 * 24 + 2), grid.size  # a title and times, tiny grid 4x4 tokens drawn 24x
    looks_like_a_picture(os.path.join(out, "transfer_1.png"))
    gif = Image.open(os.path.join(out, "transfer_0.gif"))
    assert gif.n_frames == 4 and gif.size[1] == grid.size[1] - 26  # no title or times
    # tools/visualize.py's pictures of the same run (no decoder: states as colours)
    written = draw_run(lam, str(tmp_path / "pictures"), examples=1, formats=("png", "gif"))
    assert [os.path.basename(p) for p in written] == ["training_curves.png", "rollout_0.png", "rollout_0.gif"]
    looks_like_a_picture(written[0], (400, 200))
    assert Image.open(written[1]).size == grid.size and Image.open(written[2]).n_frames == 4
    with pytest.raises(ConfigError, match=r"context=4 .* must be in \[1, 4\)"):
        draw_run(lam, str(tmp_path / "pictures"), context=4)
    c.eval.update(kinds="capacity", split="train")  # the training clips: the generalisation gap
    seen = evaluate(c, lam)
    assert seen["split"] == "train" and os.path.exists(os.path.join(lam, "eval_train", "capacity.json"))
    assert seen["capacity"]["model"]["repr_l1"] != summary["capacity"]["model"]["repr_l1"]
    # eval.out names the folder; eval.label goes on every picture (here: the leakage profile,
    # otherwise the one of the first evaluation in eval/).
    c.eval.update(kinds="leakage", split="holdout", out="eval_labelled", label="budget smoke, seed 0")
    evaluate(c, lam)
    assert os.path.exists(os.path.join(lam, "eval_labelled", "leakage.json"))
    labelled = np.asarray(Image.open(os.path.join(lam, "eval_labelled", "leakage_profile.png")))
    plain = np.asarray(Image.open(os.path.join(lam, "eval", "leakage_profile.png")))
    assert labelled.shape == plain.shape and not np.array_equal(labelled, plain)  # the same curves, and the label
    c.eval.out = "../elsewhere"
    with pytest.raises(ConfigError, match="eval.out='../elsewhere': must be a folder name"):
        evaluate(c, lam)
    c.eval.out = ""
    c.eval.kinds = "capacity,nonsense"
    with pytest.raises(ConfigError, match="eval.kinds"):
        evaluate(c, lam)


def test_evaluate_job_with_decoder_and_lpips(sparse_run, tmp_path):
    c, lam = evaluate_config(), str(own_copy(sparse_run.workdir, tmp_path))
    d = decoder_config(steps=2)
    d.model.encoder_checkpoint = os.path.join(lam, "encoder")
    d.lpips_net, d.lpips_weights = "vgg", str(tmp_path / "lpips.npz")
    d.decoder.perceptual_weight = 0.5
    write_random_lpips(d.lpips_weights)
    _, _, history = train_decoder(d, str(tmp_path / "dec"))
    row = history[-1]  # the decoder's loss is L1 + weight x LPIPS
    assert row["lpips"] > 0
    np.testing.assert_allclose(row["loss"], row["pixel_l1"] + 0.5 * row["lpips"], rtol=1e-5)

    c.lpips_net, c.lpips_weights = "vgg", d.lpips_weights
    c.eval.decoder = str(tmp_path / "dec")
    evaluate(c, lam)
    out = os.path.join(lam, "eval")
    summary = json.load(open(os.path.join(out, "results.json")))
    # Nothing missing; only the 50-step Langevin chains are reported as not converged.
    assert [n.split(" (")[0] for n in summary["notices"]] == ["sampling: the Langevin chains had not converged"]
    assert not summary["sampling"]["sgld_converged"] and summary["lpips"].startswith("LPIPS-vgg from ")
    metrics = {"repr_l1", "pixel_l1", "psnr", "ssim", "lpips"}
    assert set(summary["capacity"]["model"]) == metrics == set(summary["capacity"]["copy_last"])
    assert set(summary["capacity"]["decoded_real"]) == metrics - {"repr_l1"}  # the decoder's own error
    assert set(summary["leakage"]["model"]) == metrics
    assert set(summary["transfer"]["ratio"]) == metrics
    for name in ("leakage_profile.png", "latent_embedding.png", "transfer_0.png", "transfer_1.png"):
        looks_like_a_picture(os.path.join(out, name))
    assert Image.open(os.path.join(out, "transfer_0.gif")).n_frames == 8  # the frames, one by one
    grid = Image.open(os.path.join(out, "transfer_0.png"))
    assert grid.size[1] == 26 + 5 * (32 * 3 + 2)  # a title and times, five rows of 32 px frames drawn 3x

    # A decoder of another encoder is refused.
    d.model.encoder_checkpoint = ""
    d.seed = 7
    train_decoder(d, str(tmp_path / "dec_other"))
    c.eval.decoder = str(tmp_path / "dec_other")
    with pytest.raises(ConfigError, match="not this run's"):
        evaluate(c, lam)
