"""tools/ci_times.py reads a .ci/run log: phases, each pytest run's summary, the slowest tests."""
import pytest

from tools import ci_times

LOG = """\
Successfully installed lawm_jax-0.1.0
[ci] install: 70 s (total 70 s)
============================= slowest 30 durations =============================
33.06s call     tests/train/test_sharding.py::test_data_parallel_equals_one_device
30.45s setup    tests/planning/test_protocols.py::test_droid_protocol_end_to_end
0.01s call     tests/test_main.py::test_every_job_the_config_accepts_has_a_function
================ 265 passed, 35 deselected in 299.25s (0:04:59) ================
[ci] default run: 303 s (total 373 s)
============================= slowest 30 durations =============================
412.50s call     tests/experiments/test_scripts.py::test_experiment_scripts
========== 1 failed, 33 passed, 266 deselected in 900.00s (0:15:00) ===========
[ci] slow run, 2 workers: 905 s (total 1278 s)
"""


def test_phases_summaries_and_the_slowest_tests():
    phases, durations = ci_times.read_log(LOG)
    assert [(p["name"], p["seconds"], p["total"]) for p in phases] == [
        ("install", 70, 70), ("default run", 303, 373), ("slow run, 2 workers", 905, 1278)]
    assert phases[0]["tests"] == "" and phases[1]["tests"].startswith("265 passed, 35 deselected")
    assert durations[0] == (412.5, "call", "tests/experiments/test_scripts.py::test_experiment_scripts",
                            "slow run, 2 workers")
    assert durations[2] == (30.45, "setup", "tests/planning/test_protocols.py::test_droid_protocol_end_to_end",
                            "default run")
    text = ci_times.report(phases, durations, slowest=2)
    assert "| `.ci/run` | 21.3 min (1278 s) | 298 | 1 |" in text
    assert "| default run | 5.0 min (303 s) | 265 passed, 35 deselected |" in text
    assert "test_sharding" in text and "test_every_job" not in text  # only the 2 slowest


def test_a_log_without_phases_is_refused():
    from absl import app
    with pytest.raises(app.UsageError, match="no '\\[ci\\] PHASE"):
        ci_times.read_log("=== 3 passed in 1.0s ===\n")
