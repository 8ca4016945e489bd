"""The planning benchmark runs on a tiny budget and reports well-formed rows (no timing
assertions: these machines are shared)."""
import json
import subprocess
import sys

import pytest

from tools.bench_planning import markdown, run


@pytest.mark.slow  # two compiled planners, ~13 s
def test_rows_for_each_config_and_drive():
    rows = run(["configs/arm.py"], repeats=2, overrides={"samples": 8, "iterations": 2})
    assert [r["drive"] for r in rows] == ["controller", "latent", "actions"]
    for r in rows:
        assert (r["samples"], r["iterations"], r["horizon"]) == (8, 2, 3)
        assert 0 < r["min_s"] <= r["median_s"] and r["compile_s"] > 0
        assert r["rollout_steps_per_s"] == 8 * 2 * 3 / r["median_s"]
    assert markdown(rows).count("\n") == 4


@pytest.mark.slow  # a fresh process: imports and two compiles, ~20 s
def test_command_line_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    subprocess.run([sys.executable, "tools/bench_planning.py", "--configs=configs/camera.py", "--repeats=1",
                    "--samples=4", f"--json={out}"], check=True, capture_output=True)
    rows = json.loads(out.read_text())
    assert len(rows) == 3 and rows[0]["horizon"] == 8 and rows[0]["samples"] == 4
