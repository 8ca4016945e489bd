"""Where the trainer's numbers go: metrics.jsonl, TensorBoard event files, the console.

Every log row is one flat dict: "step", scalars, and vectors as lists (the noisy
bottleneck's KL per dimension). The same row goes to WORKDIR/metrics.jsonl and to
WORKDIR/tensorboard (scalars as scalars, vectors as histograms).
"""
from __future__ import annotations

import json
import os
import sys
import time

import jax
import numpy as np

from lawm_jax import checkpoint
from lawm_jax.progress import progress_bar


def to_python(metrics: dict) -> dict:
    """Device metrics -> floats, and lists for vectors (JSON-ready)."""
    out = {}
    for k, v in jax.device_get(metrics).items():
        v = np.asarray(v)
        out[k] = v.tolist() if v.ndim else float(v)
    return out


class MetricsWriter:
    """Appends rows to WORKDIR/metrics.jsonl and TensorBoard events (process 0 only).

    A resumed run appends to the same files; rows of steps after the last checkpoint of a
    killed run appear twice, and readers keep the last (`plots.read_metrics`).
    """

    def __init__(self, workdir: str, enabled: bool = True):
        self.enabled = enabled
        self.path = os.path.join(workdir, checkpoint.METRICS_FILE)
        self.tb = None
        if enabled:
            from tensorboardX import SummaryWriter  # imported here: only process 0 writes
            self.tb = SummaryWriter(os.path.join(workdir, checkpoint.TENSORBOARD_DIR), flush_secs=30)

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        step = row["step"]
        for k, v in row.items():
            if k == "step":
                continue
            if isinstance(v, list):
                self.tb.add_histogram(k, np.asarray(v), step)
            else:
                self.tb.add_scalar(k, v, step)

    def text(self, tag: str, text: str, step: int = 0) -> None:
        if self.enabled:
            self.tb.add_text(tag, text, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
            self.tb = None


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Throughput:
    """Wall time, steps and data-loading wait since the last report.

    `restart()` after the first step keeps its compilation out of the rates.
    """

    def __init__(self, clips_per_step: int, tokens_per_step: int, flops_per_step: float | None = None):
        self.clips, self.tokens, self.flops = clips_per_step, tokens_per_step, flops_per_step
        self.rate = None  # steps/s of the last report
        self.restart()

    def restart(self) -> None:
        self.t0, self.steps, self.wait = time.perf_counter(), 0, 0.0

    def add(self, steps: int = 1, data_wait: float = 0.0) -> None:
        self.steps += steps
        self.wait += data_wait

    def current_rate(self) -> float | None:
        elapsed = time.perf_counter() - self.t0
        return self.steps / elapsed if self.steps and elapsed > 0 else self.rate

    def report(self) -> dict:
        """Rates since the last report (then restarts). Empty when no step was timed."""
        elapsed = time.perf_counter() - self.t0
        if not self.steps or elapsed <= 0:
            return {}
        self.rate = self.steps / elapsed
        row = {"time/steps_per_s": self.rate,
               "time/data_wait_s": self.wait / self.steps,           # per step
               "time/data_wait_frac": min(self.wait / elapsed, 1.0),
               "throughput/clips_per_s": self.rate * self.clips,
               "throughput/tokens_per_s": self.rate * self.tokens}
        if self.flops:
            row["perf/flops_per_step"] = self.flops
            row["perf/flops_per_s"] = self.rate * self.flops
        self.restart()
        return row


class ConsoleProgress:
    """The console bar: step, loss, steps/s and ETA, redrawn at most every `every` s.

    Only on a terminal: in a log file the redraws would interleave with the log lines,
    which carry steps/s and the ETA themselves.
    """

    def __init__(self, total: int, enabled: bool = True, every: float = 0.5):
        self.total, self.every = total, every
        self.enabled = enabled and sys.stderr.isatty()
        self.last = 0.0

    def clear(self) -> None:
        """Blanks the bar's line so that a log line can take it."""
        if self.enabled and self.last:
            sys.stderr.write("\r" + " " * 110 + "\r")

    def due(self, step: int) -> bool:
        return self.enabled and (step >= self.total or time.perf_counter() - self.last >= self.every)

    def draw(self, step: int, loss: float, rate: float | None) -> None:
        self.last = time.perf_counter()
        speed = f"{rate:.2f} steps/s ETA {format_duration((self.total - step) / rate)}" if rate else "compiling"
        progress_bar(step, self.total, f"loss {loss:.4f} {speed}")
