"""The benchmark suite (tools/benchmark.py) on the tiny config: it runs, writes well-formed
JSON, Markdown and a non-blank plot, and its side-by-side figures compare equal things.
No timing assertions: these machines are shared."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from tools.benchmark import SECTIONS, alternate, markdown, scaling_plot


def test_alternate_times_every_function_after_a_warm_up():
    calls = []
    medians = alternate({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3)
    assert calls == ["a", "b"] + ["a", "b"] * 3  # warm-up, then interleaved
    assert set(medians) == {"a", "b"} and all(m >= 0 for m in medians.values())


def test_scaling_plot_is_a_picture(tmp_path):
    from matplotlib.image import imread
    rows = [{"axis": axis, "value": v, "step_s": 0.1 * v, "tokens": 64 * v}
            for axis in ("frames", "batch") for v in (2, 4, 8)]
    img = imread(scaling_plot(rows, str(tmp_path / "s.png")))
    assert img.shape[0] > 200 and img.shape[1] > 600 and img[..., :3].std() > 0.05


@pytest.mark.slow  # a fresh process, every section on the tiny config: ~3 min
def test_command_writes_every_section(tmp_path):
    subprocess.run([sys.executable, "tools/benchmark.py", "--config=configs/bench.py:tiny",
                    "--config.bench.reference=True", f"--out={tmp_path}"], check=True, capture_output=True)
    report = json.loads((tmp_path / "benchmark.json").read_text())
    sections = report["sections"]
    assert set(sections) == set(SECTIONS) - {"planning"}  # the tiny config plans nothing
    assert report["device"] and report["torch_threads"] >= 1

    def positive(x):
        return isinstance(x, (int, float)) and math.isfinite(x) and x > 0

    assert [r["dtype"] for r in sections["peak"]] == ["float32", "bfloat16"]
    assert all(positive(r["flops_per_s"]) for r in sections["peak"])
    attn = sections["attention"]
    assert len(attn) == 12 and all(positive(r["ms"]) for r in attn)
    assert {r["shape"] for r in attn} == {"2x64x2x32", "1x40x2x8"}
    enc, cnn = sections["encoder"]
    # Hugging Face's encoder and ours ran on the same weights and input; so did PyTorch's
    # convolutions and the AlexNet kind.
    assert enc["max_abs_diff"] < 1e-3 and positive(enc["speedup"]) and enc["mode"] == "bidirectional"
    assert cnn["encoder"] == "alexnet" and cnn["mode"] == "per_frame"
    assert cnn["max_abs_diff"] < 1e-3 and positive(cnn["speedup"])
    step32, step16, grad = sections["train"]
    assert [r["what"] for r in sections["train"]] == ["step, Newton-Schulz float32", "step, Newton-Schulz bfloat16",
                                                      "forward+backward"]
    for row in (step32, step16, grad):
        for key in ("step_s", "clips_per_s", "tokens_per_s", "xla_flops_per_step", "hand_flops_per_step",
                    "utilisation_xla"):
            assert positive(row[key]), key
    # PyTorch ran the same float32 step; its bf16 Muon either ran too or the row says why not.
    for row in (step32, grad):
        assert positive(row["pytorch_step_s"]) and positive(row["speedup"])
    assert positive(step16.get("pytorch_step_s")) or "slower than float32" in step16["note"]
    # Muon's Newton-Schulz iterations are in the step's count only.
    assert step32["xla_flops_per_step"] > grad["xla_flops_per_step"]
    memory = sections["memory"]
    assert {(r["remat"], r["batch"]) for r in memory} == {(False, 2), (True, 2)}
    assert all(r["peak_bytes"] >= r["argument_bytes"] > 0 for r in memory)
    scaling = sections["scaling"]
    assert {r["axis"] for r in scaling} == {"frames", "image_size", "batch"}
    for axis in ("frames", "image_size", "batch"):  # more work, more arithmetic
        flops = [r["xla_flops_per_step"] for r in scaling if r["axis"] == axis]
        assert np.all(np.diff(flops) > 0), axis
    roll = sections["rollout"][0]
    assert roll["max_abs_diff"] < 1e-4 and positive(roll["speedup"])
    md = (tmp_path / "benchmark.md").read_text()
    assert md == markdown(report) and all(f"## {s}" in md for s in sections)
    assert (tmp_path / "scaling.png").stat().st_size > 10_000
