"""The benchmark's configs (tools/benchmark.py).

    python tools/benchmark.py --config=configs/bench.py          # cpu: ViT-S sizes, float32
    python tools/benchmark.py --config=configs/bench.py:gpu --sections=peak,train,memory,planning  # GPU check
    python tools/benchmark.py --config=configs/bench.py:tiny     # seconds; the tests' smoke run

cpu: a ViT-S encoder (384 x 12, frozen), IDM 384 x 2 and predictor 384 x 6 on 16 frames
of 128² (8 steps of 64 tokens), batch 4, float32: big enough that matrix products
dominate, small enough for 2 cores. gpu: configs/paper.py's networks (ViT-L encoder,
IDM 1024 x 6, predictor 1024 x 24, bf16, remat, scan) on 16 frames of 256², batch 16
per device. `bench` lists what each section sweeps.
"""
import dataclasses

import ml_collections

from configs import paper, tiny
from lawm_jax.models.encoder import EncoderConfig


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    arg = arg or "cpu"
    if arg not in ("cpu", "gpu", "tiny"):
        raise ValueError(f"configs/bench.py takes cpu, gpu or tiny, not {arg!r}")
    c = paper.get_config() if arg == "gpu" else tiny.get_config("noisy")
    c.data.source = "shapes"  # the benchmark feeds random arrays; validation wants a source
    c.model.bottleneck.kind = "noisy"
    b = ml_collections.ConfigDict()
    b.repeats = 5            # timed runs per figure (the median is reported)
    b.steps_per_run = 2      # train steps per timed run
    b.matmul_size = 2048     # the peak: an n x n x n product in the step's dtype
    b.reference = True       # Hugging Face encoder and PyTorch train step side by side (float32)
    b.train_dtypes = ["float32", "bfloat16"]  # the train step computing in each
    b.ns_dtypes = ["float32", "bfloat16"]  # ... with Muon's Newton-Schulz products in each
    # encoder throughput: (preset, batch, frames, image size)
    # ("alexnet": the pretrained CNN kind, one tiny config's batch of 16 clips x 8 frames)
    b.encoders = [("vits", 4, 16, 128), ("vitl", 1, 16, 256), ("alexnet", 16, 8, 128)]
    b.memory_batches = [2, 4, 8]  # compiled step's memory, with and without remat
    b.long_attention = [1, 2048, 16, 64]  # unmasked attention at ViT-L's 2,048 tokens (B, L, H, K)
    b.scaling = ml_collections.ConfigDict({"frames": [8, 16, 32], "image_size": [64, 128, 192],
                                           "batch": [2, 4, 8]})
    b.rollout = ml_collections.ConfigDict({"samples": 16, "context": 1, "horizon": 7})
    b.planning_configs = ["configs/arm.py"]  # one CEM replanning step at its plan budget
    b.planning_drives = ["controller", "latent", "actions"]  # tools/bench_planning.py's DRIVES
    if arg == "cpu":
        c.model.encoder = dataclasses.asdict(EncoderConfig.preset("vits"))
        net = dict(width=384, num_heads=6, mlp_hidden=1536, dtype="float32", remat=False, scan=False)
        c.model.idm = {**net, "depth": 2}
        c.model.predictor = {**net, "depth": 6, "residual": True}
        c.data.update(frames=16, image_size=128, global_batch=4)
    elif arg == "gpu":  # the GPU check of docs/PERFORMANCE.md: about 5 minutes on one H100 (estimated)
        c.data.update(frames=16, image_size=256, global_batch=16)
        b.repeats = 3
        b.matmul_size = 8192
        b.reference = False  # the PyTorch reference runs on the CPU only
        b.train_dtypes = ["bfloat16"]
        b.ns_dtypes = ["bfloat16"]
        b.encoders = [("vitl", 16, 16, 256)]
        b.memory_batches = [16]  # with and without remat: two compiles of the paper step
        b.scaling.update(frames=[8, 16, 32], image_size=[128, 256, 384], batch=[4, 8, 16, 32])
        b.rollout.update(samples=300, context=1, horizon=7)
        b.planning_configs = ["configs/paper.py"]  # the DROID budget at the paper's sizes
        b.planning_drives = ["controller", "actions"]
    else:  # tiny: every section in seconds
        c.data.global_batch = 2
        b.update(repeats=2, steps_per_run=1, matmul_size=256, reference=False, train_dtypes=["float32"],
                 encoders=[("tiny", 2, 8, 32), ("alexnet", 1, 2, 64)], memory_batches=[2], planning_configs=[],
                 long_attention=[1, 40, 2, 8])
        b.scaling.update(frames=[4, 8], image_size=[16, 32], batch=[2, 4])
        b.rollout.update(samples=4, horizon=3)
    with c.unlocked():
        c.bench = b
        c.bench_name = f"configs/bench.py:{arg}"
    return c
