"""The command line, as a user runs it: training, resuming, signals and the features job
in real subprocesses; errors in this process, through the same entry point."""
import json
import os
import subprocess
import sys

import pytest

from tests.helpers import main_in_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_main(*args):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)  # a plain single-device run, as a user would have
    return subprocess.run([sys.executable, "-m", "lawm_jax.main", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_train_then_resume_from_the_command_line(tmp_path):
    common = ["--config=configs/tiny.py:vq", f"--workdir={tmp_path}", "--config.data.num_clips=16",
              "--config.data.global_batch=4", "--config.train.log_every=1", "--config.train.steps=4"]
    first = run_main(*common, "--config.train.ckpt_every=2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["2", "4"]
    second = run_main(*common[:-1], "--config.train.steps=6")  # longer run: resumes at 4
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resumed from step 4" in second.stderr
    steps = [json.loads(line)["step"] for line in open(tmp_path / "metrics.jsonl")]
    assert steps == [1, 2, 3, 4, 5, 6]
    saved = json.load(open(tmp_path / "world_model.json"))
    assert saved["model"]["bottleneck"]["kind"] == "vq"


def test_bad_config_values_fail_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, stderr = main_in_process("--config=configs/tiny.py", f"--workdir={tmp_path}",
                                   "--config.model.bottleneck.kind=gumbel")
    assert code != 0
    assert "config.model.bottleneck.kind='gumbel'" in stderr
    assert "Traceback" not in stderr
    assert not os.path.exists(tmp_path / "checkpoints")
    code, stderr = main_in_process("--config=configs/tiny.py", f"--workdir={tmp_path}", "--config.train.stepz=3")
    assert code != 0 and "stepz" in stderr


def test_missing_video_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, stderr = main_in_process("--config=configs/tiny.py", f"--workdir={tmp_path}", "--config.data.source=video",
                                   f"--config.data.path={tmp_path}/nowhere")
    assert code != 0
    assert "does not exist" in stderr and "config.data.path" in stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_the_run_resumes(tmp_path):
    import signal
    import time
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    args = ["--config=configs/tiny.py", f"--workdir={tmp_path}", "--config.data.source=shapes",
            "--config.train.steps=100000", "--config.train.log_every=1", "--config.train.ckpt_every=100000"]
    proc = subprocess.Popen([sys.executable, "-m", "lawm_jax.main", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "metrics.jsonl"
    deadline = time.time() + 300
    while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)  # a preemption notice
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    saved = sorted(int(s) for s in os.listdir(tmp_path / "checkpoints"))
    assert len(saved) == 1 and 3 <= saved[0] < 100000 and "SIGTERM: saved a checkpoint" in err
    again = run_main(*args[:-2], f"--config.train.steps={saved[0] + 2}")
    assert again.returncode == 0 and f"resumed from step {saved[0]}" in again.stderr


@pytest.mark.slow
def test_sigkill_at_any_moment_then_resume_is_bit_identical(tmp_path):
    """SIGKILL while training and saving every step; the re-run resumes from the last
    complete checkpoint and ends with exactly the parameters of an uninterrupted run."""
    import signal
    import time

    import chex

    from lawm_jax import load_world_model
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    args = ["--config=configs/tiny.py", "--config.data.source=shapes", "--config.train.steps=12",
            "--config.train.log_every=1", "--config.train.ckpt_every=1", "--config.train.keep_checkpoints=3"]
    assert run_main(*args, f"--workdir={tmp_path / 'straight'}").returncode == 0
    killed = subprocess.Popen([sys.executable, "-m", "lawm_jax.main", *args, f"--workdir={tmp_path / 'run'}"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.time() + 300
    while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 5) and time.time() < deadline:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)  # mid-step or mid-save: no chance to clean up
    killed.wait(timeout=60)
    resumed = run_main(*args, f"--workdir={tmp_path / 'run'}")
    assert resumed.returncode == 0 and "resumed from step" in resumed.stderr, resumed.stderr[-3000:]
    a, b = load_world_model(str(tmp_path / "straight")), load_world_model(str(tmp_path / "run"))
    assert a.step == b.step == 12
    chex.assert_trees_all_equal(a.params, b.params)


def test_every_job_the_config_accepts_has_a_function():
    from lawm_jax import config, main
    assert set(main.JOBS) == set(config.JOBS)
    assert all(callable(f) for f in main.JOBS.values())


@pytest.mark.slow
def test_features_job_then_training_on_them_from_the_command_line(tmp_path):
    common = ["--config=configs/tiny.py", "--config.data.source=shapes", "--config.data.num_clips=8",
              "--config.data.global_batch=4"]
    out = run_main(*common, "--config.job=features", f"--workdir={tmp_path}/feats")
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.load(open(tmp_path / "feats" / "features" / "features.json"))["count"] == 8
    out = run_main(*common, f"--workdir={tmp_path}/lam", "--config.data.source=features",
                   f"--config.data.path={tmp_path}/feats/features", "--config.train.steps=3")
    assert out.returncode == 0, out.stderr[-3000:]
    assert os.path.exists(tmp_path / "lam" / "checkpoints" / "3")
    assert os.path.exists(tmp_path / "lam" / "training_curves.png")
    wrong = run_main(*common, f"--workdir={tmp_path}/wrong", "--config.data.source=features",
                     f"--config.data.path={tmp_path}/feats/features", "--config.data.image_size=48")
    assert wrong.returncode != 0 and "do not match the config" in wrong.stderr
    assert "Traceback" not in wrong.stderr
