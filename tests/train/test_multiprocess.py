"""Two processes on 127.0.0.1 (CPU collectives over gloo) train exactly like one.

Each process has 2 CPU devices and reads its own half of every global batch; the
single-process run has all 4 devices. Same config, same global batches: same losses,
same parameters, one checkpoint written together.
"""
import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from lawm_jax.api import load_world_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARGS = ["--config=configs/tiny.py", "--config.data.source=shapes", "--config.data.num_clips=32",
        "--config.data.global_batch=8", "--config.train.steps=4", "--config.train.log_every=1",
        "--config.train.ckpt_every=2", "--config.model.bottleneck.kind=sparse",
        # float32 Newton-Schulz: bf16 would round the float32 summation-order differences
        # these checks allow into bf16 steps (every training test covers the bf16 default)
        "--config.train.muon_ns_dtype=float32"]


def start(workdir, devices, *extra):
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    return subprocess.Popen([sys.executable, "-m", "lawm_jax.main", *ARGS, f"--workdir={workdir}", *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc):
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.serial  # three processes and a port on 127.0.0.1: alone, not beside another worker
def test_two_processes_train_like_one(tmp_path):
    single = start(tmp_path / "single", 4)
    port = free_port()
    procs = [start(tmp_path / "multi", 2, f"--config.distributed.coordinator=127.0.0.1:{port}",
                   "--config.distributed.num_processes=2", f"--config.distributed.process_id={i}")
             for i in range(2)]
    logs = [finish(p) for p in [single, *procs]]
    assert "process 1 of 2" in logs[2]

    def losses(run):
        return [json.loads(line)["loss"] for line in open(tmp_path / run / "metrics.jsonl")]

    np.testing.assert_allclose(losses("multi"), losses("single"), rtol=1e-5)
    assert len(losses("multi")) == 4  # process 0 alone writes the metrics
    one, two = load_world_model(str(tmp_path / "single")), load_world_model(str(tmp_path / "multi"))
    assert one.step == two.step == 4
    for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(two.params)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=5e-5)  # summation order
    # Both runs go on to step 6 in one process with 1 device: the 2-process checkpoint
    # restores onto the new device count and its data iterator continues the same batches.
    finish(start(tmp_path / "single", 4, "--config.train.steps=6"))
    finish(start(tmp_path / "multi", 1, "--config.train.steps=6"))
    np.testing.assert_allclose(losses("multi"), losses("single"), rtol=1e-4)
    assert len(losses("multi")) == 6
