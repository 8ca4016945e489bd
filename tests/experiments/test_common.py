"""What the experiment scripts share (experiments/common.py): seeds and overrides. Run in a
fresh process: common.py defines absl flags (--config among them) that would clash with
lawm_jax.main's in the test process."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHECKS = r'''
import pytest
from absl import app, flags
import common
from configs import tiny

rows = common.over_seeds([{"repr_l1": 0.2, "kind": "x", "n": 3}, {"repr_l1": 0.4, "kind": "x", "n": 5}])
assert rows == pytest.approx({"repr_l1": 0.3, "repr_l1_std": 0.1, "n": 4.0, "n_std": 1.0}), rows
assert common.spread(rows, "repr_l1") == "0.3000 ± 0.1000"
one = common.over_seeds([{"repr_l1": 0.25}])
assert one == {"repr_l1": 0.25} and common.spread(one, "repr_l1") == "0.2500" and common.spread(one, "lpips") == ""

flags.FLAGS(["test", "--seeds=0,2"])
assert common.seeds() == [0, 2]
assert common.run_name("sparse", 0.1) == "sparse_0.1" and common.run_name("sparse", 0.1, 0) == "sparse_0.1"
assert common.run_name("sparse", 0.1, 2) == "sparse_0.1_seed2" and common.run_name("deterministic") == "deterministic"
c = tiny.get_config("sparse")
for item in ("data.source=scenes", "model.bottleneck.latent_dim=128", "model.predictor.adaln_zero=false",
             "model.bottleneck.l1=0.001"):
    common.override(c, item)
assert (c.data.source, c.model.bottleneck.latent_dim, c.model.predictor.adaln_zero) == ("scenes", 128, False)
assert c.model.bottleneck.l1 == 0.001
for bad, says in (("model.nope=1", "no field 'model.nope'"), ("data.frames=eight", "type int"),
                  ("model.predictor.adaln_zero=maybe", "true or false"), ("data.frames", "KEY=VALUE")):
    with pytest.raises(app.UsageError, match=says):
        common.override(c, bad)

# --capacity: the tables' low/high rows; bad items named.
flags.FLAGS(["test", "--capacity=sparse:0.1:0.0001,vq:16:1024"])
rows = common.table_models()
assert [(k, cap, coef) for k, cap, coef in rows[:6]] == [
    ("sparse", "low", 0.1), ("sparse", "high", 0.0001), ("noisy", "low", 0.01), ("noisy", "high", 0.0001),
    ("vq", "low", 16), ("vq", "high", 1024)], rows
assert common.capacity_note() == "sparse 0.1 / 0.0001, noisy 0.01 / 0.0001, vq 16 / 1024"
for bad, says in (("--capacity=lasso:1:2", "KIND one of"), ("--capacity=sparse:0.1", "KIND:LOW:HIGH"),
                  ("--capacity=vq:8:many", "must be numbers")):
    flags.FLAGS(["test", bad])
    with pytest.raises(app.UsageError, match=says):
        common.capacities()

# --eval_data and --tag: where evaluations and reports go, and their titles.
flags.FLAGS(["test", "--capacity=", "--root=" + ROOT])
assert (common.eval_dir(), common.eval_dir("train"), common.suffix()) == ("eval", "eval_train", "")
common.write_report("x", "Title", "body", {"a": 1})
assert open(ROOT + "/x.md").read().startswith("# Title\n")
flags.FLAGS(["test", "--eval_data=/videos", "--tag=budget smoke"])
assert (common.eval_dir(), common.eval_dir("train"), common.suffix()) == ("eval_videos", "eval_videos_train",
                                                                         "_videos")
common.write_report("x", "Title", "body", {"a": 1})
assert open(ROOT + "/x_videos.md").read().startswith("# Title, on the videos of /videos [budget smoke]\n")
assert common.picture_title("capacity") == "capacity [budget smoke]"
print("ok")
'''


def test_seeds_spread_run_names_overrides_capacities_and_reports(tmp_path):
    checks = f"ROOT = {str(tmp_path)!r}\n" + CHECKS
    done = subprocess.run([sys.executable, "-c", checks], capture_output=True, text=True,
                          cwd=os.path.join(REPO, "experiments"), env={**os.environ, "PYTHONPATH": REPO})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
