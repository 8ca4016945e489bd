"""What a run leaves to look at: metrics.jsonl, TensorBoard events, the curves PNG, the bar."""
import io
import json
import math
import sys

import numpy as np
import pytest

from lawm_jax import plots
from lawm_jax.train import metrics as metrics_lib
from lawm_jax.train.lam import train
from tests.helpers import small_config


@pytest.mark.slow  # trains a run of its own: ~50 s of compiling on 2 cores
def test_a_run_writes_metrics_tensorboard_and_curves(tmp_path):
    c = small_config("noisy", steps=3)
    _, _, history = train(c, str(tmp_path))
    rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert [r["step"] for r in rows] == [1, 2, 3]
    last = rows[-1]
    for key in ("loss", "pred_l1", "grad_norm", "lr/muon", "lr/adam", "bottleneck/latent_norm",
                "bottleneck/kl", "throughput/clips_per_s", "throughput/tokens_per_s",
                "time/data_wait_s", "perf/flops_per_step", "perf/flops_per_s", "data/bad_files"):
        assert key in last, key
    # The rates are consistent with each other: 4 clips of 4 steps x 16 tokens per step.
    assert last["throughput/clips_per_s"] == pytest.approx(4 * last["time/steps_per_s"])
    assert last["throughput/tokens_per_s"] == pytest.approx(4 * 4 * 16 * last["time/steps_per_s"])
    assert last["perf/flops_per_s"] == pytest.approx(last["perf/flops_per_step"] * last["time/steps_per_s"])
    assert last["perf/flops_per_step"] > 1e6
    # KL per dimension: one value per latent dimension, summing to the total.
    assert len(last["bottleneck/kl_per_dim"]) == 16
    assert sum(last["bottleneck/kl_per_dim"]) == pytest.approx(last["bottleneck/kl"], rel=1e-5)
    # The rates of the updates logged: warm-up of max(1, 10% of 3) = 1 step from 0, then
    # cosine from the peak over the 2 remaining steps.
    assert rows[0]["lr/muon"] == 0.0
    assert rows[1]["lr/muon"] == pytest.approx(0.02, rel=1e-5)
    assert rows[2]["lr/muon"] == pytest.approx(0.02 * 0.5 * (1 + math.cos(math.pi * 1 / 2)), rel=1e-5)
    assert rows[1]["lr/adam"] / rows[1]["lr/muon"] == pytest.approx(1e-3 / 0.02, rel=1e-5)
    assert history == rows

    # TensorBoard's own reader sees the same numbers.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("loss")] == [1, 2, 3]
    np.testing.assert_allclose([e.value for e in events.Scalars("loss")], [r["loss"] for r in rows], rtol=1e-6)
    assert "throughput/clips_per_s" in events.Tags()["scalars"]
    hist = events.Histograms("bottleneck/kl_per_dim")[-1].histogram_value
    assert hist.num == 16 and hist.sum == pytest.approx(last["bottleneck/kl"], rel=1e-4)

    # The curves PNG: a real picture, not a blank canvas.
    from PIL import Image
    image = np.asarray(Image.open(tmp_path / "training_curves.png").convert("L"), np.float32)
    assert image.shape[0] >= 300 and image.shape[1] >= 800
    assert image.std() > 10 and (image < 128).mean() > 0.01


def test_curves_keep_the_last_row_of_a_step_logged_twice(tmp_path):
    """A run killed after logging resumes from an earlier checkpoint and logs steps again."""
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}, {"step": 2, "loss": 1.5}, {"step": 3, "loss": 1.0}]))
    assert [r["loss"] for r in plots.read_metrics(str(path))] == [3.0, 1.5, 1.0]
    out = plots.training_curves(str(path), str(tmp_path / "c.png"))
    assert open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(ValueError, match="empty.jsonl has no rows"):
        plots.training_curves(str(tmp_path / "empty.jsonl"), str(tmp_path / "d.png"))


def test_throughput_and_console_bar(monkeypatch):
    meter = metrics_lib.Throughput(clips_per_step=8, tokens_per_step=800, flops_per_step=1e9)
    assert meter.report() == {}  # nothing timed yet
    meter.add(2, data_wait=0.01)
    meter.add(2, data_wait=0.03)
    row = meter.report()
    assert row["time/data_wait_s"] == pytest.approx(0.01)
    assert row["throughput/clips_per_s"] == pytest.approx(8 * row["time/steps_per_s"])
    assert row["perf/flops_per_s"] == pytest.approx(1e9 * row["time/steps_per_s"])
    assert metrics_lib.format_duration(3725.9) == "1:02:05"

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    bar = metrics_lib.ConsoleProgress(total=100)
    assert bar.due(1)
    bar.draw(40, 0.1234, 2.0)
    assert "40/100" in term.getvalue() and "loss 0.1234" in term.getvalue()
    assert "2.00 steps/s ETA 0:00:30" in term.getvalue()
    assert not bar.due(41)  # redrawn at most every 0.5 s
    assert bar.due(100)     # but always at the end
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a log file: no bar at all
    assert not metrics_lib.ConsoleProgress(total=100).due(100)


def test_library_info_lines_are_hidden_but_not_their_warnings():
    import logging

    from absl import logging as absl_logging

    from lawm_jax.progress import _QuietLibraries, quiet_library_logs
    quiet_library_logs()
    quiet_library_logs()  # idempotent
    handler = absl_logging.get_absl_handler()
    assert sum(isinstance(f, _QuietLibraries) for f in handler.filters) == 1

    def record(level, path, name="absl"):
        return logging.LogRecord(name, level, path, 1, "msg", None, None)

    orbax_file = "/site-packages/orbax/checkpoint/_src/checkpointers/async_checkpointer.py"
    assert not handler.filter(record(logging.INFO, orbax_file))
    assert handler.filter(record(logging.WARNING, orbax_file))
    assert handler.filter(record(logging.INFO, "/work/lawm_jax/train/loop.py"))
    bridge = "/site-packages/jax/_src/xla_bridge.py"  # "Unable to initialize backend 'tpu'"
    assert not handler.filter(record(logging.INFO, bridge, "jax._src.xla_bridge"))
    assert handler.filter(record(logging.WARNING, bridge, "jax._src.xla_bridge"))


def test_latent_embedding_plot(tmp_path):
    rng = np.random.default_rng(0)
    # Two clouds apart along one direction of 8-D space: the first principal axis finds it.
    direction = rng.standard_normal(8)
    direction /= np.linalg.norm(direction)
    a = rng.standard_normal((300, 8)) * 0.1 + 3 * direction
    b = rng.standard_normal((200, 8)) * 0.1 - 3 * direction
    pa, pb = plots.pca_2d(a, b)
    assert pa.shape == (300, 2) and pb.shape == (200, 2)
    assert abs(pa[:, 0].mean() - pb[:, 0].mean()) == pytest.approx(6.0, rel=0.02)
    assert abs(pa[:, 1].mean() - pb[:, 1].mean()) < 0.05
    out = plots.latent_embedding({"inferred": a, "sampled": b}, str(tmp_path / "emb.png"))
    from PIL import Image
    image = np.asarray(Image.open(out).convert("L"), np.float32)
    assert image.shape == (500, 500) and image.std() > 10
