"""The benchmark suite: throughput, utilisation against the measured peak, memory, scaling,
rollouts and planning, and the PyTorch reference side by side, in one run.

    python tools/benchmark.py --config=configs/bench.py --out=/tmp/bench        # CPU
    python tools/benchmark.py --config=configs/bench.py:gpu --out=/tmp/bench    # GPU, paper shapes
    python tools/benchmark.py --config=configs/bench.py:tiny --out=/tmp/bench --sections=train,rollout

Writes OUT/benchmark.json (every row, with the device and versions), OUT/benchmark.md
(the tables) and OUT/scaling.png. Every time is the median of `bench.repeats` timed runs
after a warm-up run that includes compilation; figures measured side by side (JAX vs
PyTorch, cached vs uncached rollouts) alternate A B A B in one process, so that a noisy
machine slows both alike. Sections (--sections, comma-separated; default all):

  peak       an n x n x n matrix product in float32 and in bf16 (float32 accumulation):
             the measured peak that utilisation is stated against
  attention  block-causal attention at the encoder's shape: jax.nn.dot_product_attention
             (XLA), the project's einsum path with a dense mask, the block-sparse path,
             the blocked online softmax; then, unmasked at bench.long_attention's
             shape (the ViT-L encoder's 2,048 tokens), the einsums against the
             blocked online softmax (ratio_to_first: against the first row of each shape)
  encoder    frozen-encoder forward, frames/s; with bench.reference, Hugging Face's
             VJEPA2Model (PyTorch, encoder only) on the same weights and input, or for
             the pretrained AlexNet kind the same convolutions in PyTorch
  train      the LAM train step (encoder + IDM + bottleneck + predictor + Muon/AdamW) with
             Muon's Newton-Schulz in each of bench.ns_dtypes, and its forward + backward
             alone, in each of bench.train_dtypes: clips/s,
             tokens/s, FLOP/s by XLA's count and by the hand count, utilisation against
             the peak of the same dtype; with bench.reference (float32), the same for
             tools/torch_reference.py's step of the same shapes
  memory     the compiled step's memory (XLA's memory analysis) against batch, remat on/off
  scaling    step time against frames, resolution and batch (scaling.png)
  rollout    autoregressive rollout with and without the key/value cache
  planning   one CEM replanning step at the plan budgets of bench.planning_configs
"""
from __future__ import annotations

import copy
import functools
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # configs/, tools/

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from lawm_jax.config import validate  # noqa: E402
from lawm_jax.flops import compiled_flops, train_step_flops  # noqa: E402
from lawm_jax.models.encoder import EncoderConfig, VideoEncoder  # noqa: E402
from lawm_jax.objective import lam_loss  # noqa: E402
from lawm_jax.train.lam import compiled_train_step  # noqa: E402
from ml_collections import FrozenConfigDict  # noqa: E402
from lawm_jax.train.sharding import global_batch, make_mesh  # noqa: E402
from lawm_jax.train.step import init_train_state  # noqa: E402
from lawm_jax.world_model import WorldModel  # noqa: E402

# PyTorch gets as many threads as XLA's CPU client uses (one per core).
TORCH_THREADS = os.cpu_count() or 1
SECTIONS = ("peak", "attention", "encoder", "train", "memory", "scaling", "rollout", "planning")


# -- timing ---------------------------------------------------------------------------
def alternate(fns: dict, repeats: int) -> dict:
    """{name: median seconds} of each zero-argument fn, after one warm-up call each, the
    timed calls interleaved A B A B so that machine noise hits all alike."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(t)) for name, t in times.items()}


def blocking(fn, *args):
    return lambda: jax.block_until_ready(fn(*args))


# -- sections ---------------------------------------------------------------------------
def matmul_peak(n: int, repeats: int) -> list[dict]:
    """GFLOP/s of an n x n x n product, float32 and bf16 inputs with float32 accumulation."""
    rows = []
    for dtype in ("float32", "bfloat16"):
        a = jax.random.normal(jax.random.key(0), (n, n)).astype(dtype)
        b = jax.random.normal(jax.random.key(1), (n, n)).astype(dtype)
        f = jax.jit(lambda a, b: jnp.matmul(a, b, preferred_element_type=jnp.float32))
        s = alternate({"matmul": blocking(f, a, b)}, repeats)["matmul"]
        rows.append({"dtype": dtype, "n": n, "seconds": s, "flops_per_s": 2 * n**3 / s})
    return rows


def encoder_throughput(encoders, repeats: int, reference: bool, dtype: str) -> list[dict]:
    """frames/s of the encoder's forward; beside it Hugging Face's VJEPA2Model with the same
    weights (converted from the PyTorch model) on the same input, bidirectional as HF's
    (a CNN kind: the same convolutions in PyTorch, frame by frame)."""
    rows = []
    for name, batch, frames, size in encoders:
        cnn = EncoderConfig.preset(name).kind != "vit"  # frame by frame, always
        mode = "per_frame" if cnn else "bidirectional" if reference else "frame_causal"
        cfg = EncoderConfig.preset(name, mode=mode, dtype=dtype)
        video = np.random.default_rng(0).normal(size=(batch, frames, size, size, 3)).astype(np.float32)
        fns = {}
        if reference:
            import torch
            torch.set_num_threads(TORCH_THREADS)
        if reference and cnn:
            from tools.torch_reference import alexnet_features
            params = VideoEncoder(cfg).init(jax.random.key(0), video[:1])["params"]

            def run_torch():
                with torch.no_grad():
                    return alexnet_features(params, video).reshape(batch, -1, cfg.width)
            fns["pytorch"] = run_torch
        elif reference:
            from lawm_jax.models.vjepa2_import import hf_to_params
            from tools.torch_reference import hf_encoder
            hf_model = hf_encoder(cfg, size, frames)
            state = {k: v.detach().numpy() for k, v in hf_model.state_dict().items()}
            params = hf_to_params(state, cfg)
            video_t = torch.from_numpy(video.transpose(0, 1, 4, 2, 3).copy())

            def run_torch():
                with torch.no_grad():
                    return hf_model(video_t, skip_predictor=True).last_hidden_state
            fns["pytorch"] = run_torch
        else:
            params = VideoEncoder(cfg).init(jax.random.key(0), video[:1])["params"]
        encode = jax.jit(lambda p, v: VideoEncoder(cfg).apply({"params": p}, v))
        fns["jax"] = blocking(encode, params, jnp.asarray(video))
        times = alternate(fns, repeats)
        row = {"encoder": name, "width": cfg.width, "depth": cfg.depth, "batch": batch, "frames": frames,
               "image_size": size, "dtype": dtype, "mode": cfg.mode, "jax_s": times["jax"],
               "jax_frames_per_s": batch * frames / times["jax"]}
        if "pytorch" in fns:
            ours = np.asarray(fns["jax"]()).reshape(batch, -1, cfg.width)
            ref = fns["pytorch"]().numpy()
            row.update(pytorch_s=times["pytorch"], pytorch_frames_per_s=batch * frames / times["pytorch"],
                       speedup=times["pytorch"] / times["jax"], max_abs_diff=float(np.abs(ours - ref).max()))
        rows.append(row)
    return rows


def attention_speed(config, repeats: int) -> list[dict]:
    """Forward and forward + backward of one block-causal attention at the encoder's shape
    in the train step (batch, steps x tokens, heads, head dim): jax.nn.dot_product_attention's
    XLA path, the project's einsum path with a dense mask, the block-sparse path and the
    blocked online softmax; then unmasked at bench.long_attention's shape, the einsums
    against the blocked online softmax."""
    from lawm_jax.models.attention import (blocked_attention, dot_product_attention, einsum_attention,
                                           step_causal_attention, step_causal_mask)
    wm_cfg = validate(config)
    enc = wm_cfg.encoder
    t, n = wm_cfg.steps, wm_cfg.tokens
    shape = (config.data.global_batch, t * n, enc.num_heads, enc.width // enc.num_heads)
    q, k, v = (jax.random.normal(jax.random.key(i), shape, jnp.dtype(enc.dtype)) for i in range(3))
    mask = step_causal_mask(t, n)
    block = min(512, t * n)
    variants = {
        "jax.nn.dot_product_attention (xla)": lambda q, k, v: jax.nn.dot_product_attention(
            q, k, v, mask=jnp.asarray(mask)[None, None], implementation="xla"),
        "einsum, dense mask": lambda q, k, v: dot_product_attention(q, k, v, mask),
        "einsum, block-sparse": lambda q, k, v: step_causal_attention(q, k, v, n),
        "blocked online softmax": lambda q, k, v: blocked_attention(q, k, v, block, n),
    }
    rows = _attention_rows(variants, (q, k, v), repeats, "jax.nn.dot_product_attention (xla)", t)
    # bidirectional at a long sequence (configs/bench.py: the ViT-L encoder's 2,048 tokens):
    # the einsums against the blocked online softmax that dot_product_attention picks there
    long = tuple(config.bench.long_attention)
    q, k, v = (jax.random.normal(jax.random.key(i), long, jnp.dtype(enc.dtype)) for i in range(3))
    variants = {"einsum, no mask": einsum_attention,
                "blocked online softmax, no mask": lambda q, k, v: blocked_attention(q, k, v)}
    return rows + _attention_rows(variants, (q, k, v), repeats, "einsum, no mask", 1)


def _attention_rows(variants: dict, qkv, repeats: int, baseline: str, steps: int) -> list[dict]:
    fns = {}
    for name, f in variants.items():
        fns[(name, "forward")] = blocking(jax.jit(f), *qkv)
        grad = jax.grad(lambda q, k, v, f=f: jnp.sum(f(q, k, v).astype(jnp.float32) ** 2), argnums=(0, 1, 2))
        fns[(name, "forward+backward")] = blocking(jax.jit(grad), *qkv)
    times = alternate(fns, repeats)
    base = {what: times[(baseline, what)] for what in ("forward", "forward+backward")}
    shape = "x".join(map(str, qkv[0].shape))
    return [{"variant": name, "pass": what, "shape": shape, "steps": steps, "ms": 1e3 * s,
             "ratio_to_first": s / base[what]} for (name, what), s in times.items()]


def _step_parts(config, remat: bool | None = None):
    """(compiled step, world-model config): the config's train step on one device."""
    if remat is not None:
        for net in ("encoder", "idm", "predictor"):
            config.model[net]["remat"] = remat
    wm_cfg = validate(config)
    compiled = compiled_train_step(wm_cfg, FrozenConfigDict(config.train), make_mesh(data=1))
    return compiled, wm_cfg


def _video(wm_cfg, batch):
    return np.random.default_rng(0).integers(0, 256, (batch, wm_cfg.frames, *wm_cfg.image_size, 3), np.uint8)


def train_runner(config, steps: int):
    """(zero-argument fn running `steps` train steps, info dict) at the config's shapes."""
    compiled, wm_cfg = _step_parts(config)
    batch = config.data.global_batch
    params = compiled.wm.init(jax.random.key(0))
    state = init_train_state(compiled.wm, compiled.tx, {k: v for k, v in params.items() if k != "encoder"})
    state = jax.device_put(state, compiled.state_shardings)
    video = global_batch(make_mesh(data=1), {"video": _video(wm_cfg, batch)})
    key, enc = jax.random.key(0), params["encoder"]
    exe, xla_flops = compiled.executable(key, state, enc, video)
    cell = [state]

    def run():
        for _ in range(steps):
            cell[0], metrics = exe(key, cell[0], enc, video)
        return jax.block_until_ready(metrics)

    t, n = wm_cfg.steps, wm_cfg.tokens
    return run, {"wm_cfg": wm_cfg, "batch": batch, "xla_flops": xla_flops, "tokens": batch * t * n,
                 "hand_flops": train_step_flops(wm_cfg, batch)["total"]}


def grad_runner(config, steps: int):
    """(fn running `steps` forward + backward passes of the LAM loss, no optimizer, its FLOPs)."""
    wm_cfg = validate(config)
    wm = WorldModel(wm_cfg)
    params = wm.init(jax.random.key(0))
    enc = params.pop("encoder")

    def loss_and_grad(trainable, enc, video, key):
        states = wm.encode({"encoder": enc}, video)
        return jax.value_and_grad(lambda p: lam_loss(wm, {**p, "encoder": enc}, states, key)[0])(trainable)

    args = (params, enc, jnp.asarray(_video(wm_cfg, config.data.global_batch)), jax.random.key(0))
    exe = jax.jit(loss_and_grad).lower(*args).compile()

    def run():
        for _ in range(steps):
            out = exe(*args)
        return jax.block_until_ready(out)
    return run, compiled_flops(exe)


def torch_bf16_slowdown(n: int = 512) -> float:
    """How many times slower PyTorch multiplies bf16 matrices than float32 ones here (CPUs
    without bf16 products emulate them: ~50x measured)."""
    import torch
    a = {d: torch.randn(n, n, dtype=d) for d in (torch.float32, torch.bfloat16)}
    times = alternate({d: (lambda x=x: x @ x) for d, x in a.items()}, 3)
    return times[torch.bfloat16] / times[torch.float32]


def train_throughput(config, repeats: int, steps: int, peak: dict, reference: bool, ns_dtypes) -> list[dict]:
    """A row per Newton-Schulz dtype of Muon (train.muon_ns_dtype) for the whole train
    step, and one for forward + backward alone (no optimizer). With `reference`, PyTorch's
    step with its Muon's products in the same dtype, except bf16 where PyTorch's bf16
    products run over 4x slower than float32 ones on this CPU (the row says so)."""
    fns, infos, notes = {}, {}, {}
    slowdown = torch_bf16_slowdown() if reference and "bfloat16" in ns_dtypes else 1.0
    for ns in ns_dtypes:
        c = copy.deepcopy(config)
        c.train.muon_ns_dtype = ns
        fns[f"jax_{ns}"], infos[ns] = train_runner(c, steps)
    info = infos[ns_dtypes[0]]
    fns["jax_grad"], grad_flops = grad_runner(config, steps)
    if reference:
        import torch

        from tools import torch_reference
        torch.set_num_threads(TORCH_THREADS)
        model = torch_reference.TorchLAM(info["wm_cfg"])
        video_t = torch.from_numpy(_video(info["wm_cfg"], info["batch"]))
        for ns in ns_dtypes:
            if ns == "bfloat16" and slowdown > 4:
                notes[ns] = f"PyTorch not timed: its bf16 products ran {slowdown:.0f}x slower than float32 here"
                continue
            opts = torch_reference.make_optimizer(model, ns_dtype=getattr(torch, ns))
            fns[f"pytorch_{ns}"] = lambda opts=opts: [torch_reference.train_step(model, opts, video_t)
                                                       for _ in range(steps)]

        def torch_grad():
            model.zero_grad(set_to_none=True)
            model(video_t).backward()
        fns["pytorch_grad"] = lambda: [torch_grad() for _ in range(steps)]
    times = {k: v / steps for k, v in alternate(fns, repeats).items()}
    wm_cfg = info["wm_cfg"]
    dtype = wm_cfg.predictor.dtype
    rows = []
    parts = [(f"step, Newton-Schulz {ns}", ns, infos[ns]["xla_flops"]) for ns in ns_dtypes]
    for what, name, xla_flops in parts + [("forward+backward", "grad", grad_flops)]:
        s = times[f"jax_{name}"]
        hand = info["hand_flops"]
        row = {"what": what, "dtype": dtype, "batch": info["batch"], "frames": wm_cfg.frames,
               "image_size": wm_cfg.image_size[0], "encoder": f"{wm_cfg.encoder.width}x{wm_cfg.encoder.depth}",
               "idm": f"{wm_cfg.idm.width}x{wm_cfg.idm.depth}",
               "predictor": f"{wm_cfg.predictor.width}x{wm_cfg.predictor.depth}",
               "step_s": s, "clips_per_s": info["batch"] / s, "tokens_per_s": info["tokens"] / s,
               "xla_flops_per_step": xla_flops, "hand_flops_per_step": hand,
               "xla_flops_per_s": (xla_flops or 0) / s, "hand_flops_per_s": hand / s,
               "peak_flops_per_s": peak.get(dtype)}
        if peak.get(dtype):
            row["utilisation_xla"] = row["xla_flops_per_s"] / peak[dtype]
            row["utilisation_hand"] = row["hand_flops_per_s"] / peak[dtype]
        if f"pytorch_{name}" in times:
            row.update(pytorch_step_s=times[f"pytorch_{name}"], speedup=times[f"pytorch_{name}"] / s)
        if name in notes:
            row["note"] = notes[name]
        rows.append(row)
    return rows


def memory_by_batch(config, batches) -> list[dict]:
    """The compiled step's bytes (arguments + outputs + temporaries - aliased) per batch,
    with and without remat; lowered on abstract arrays, nothing allocated."""
    rows = []
    for remat in (False, True):
        for batch in batches:
            compiled, wm_cfg = _step_parts(copy.deepcopy(config), remat)
            params = jax.eval_shape(compiled.wm.init, jax.random.key(0))
            state = jax.eval_shape(functools.partial(init_train_state, compiled.wm, compiled.tx),
                                   {k: v for k, v in params.items() if k != "encoder"})
            video = {"video": jax.ShapeDtypeStruct((batch, wm_cfg.frames, *wm_cfg.image_size, 3), jnp.uint8)}
            mem = compiled.step.lower(jax.random.key(0), state, params["encoder"], video).compile().memory_analysis()
            total = (mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
                     - mem.alias_size_in_bytes)
            rows.append({"remat": remat, "batch": batch, "temp_bytes": mem.temp_size_in_bytes,
                         "argument_bytes": mem.argument_size_in_bytes, "peak_bytes": total})
    return rows


def scaling(config, sweeps: dict, repeats: int) -> list[dict]:
    """Train-step seconds when one of frames, image size, batch changes (others as config)."""
    rows = []
    for axis, values in sweeps.items():
        for value in values:
            c = copy.deepcopy(config)
            c.data["global_batch" if axis == "batch" else axis] = value
            run, info = train_runner(c, 1)
            s = alternate({"step": run}, repeats)["step"]
            rows.append({"axis": axis, "value": value, "step_s": s, "tokens": info["tokens"],
                         "xla_flops_per_step": info["xla_flops"], "hand_flops_per_step": info["hand_flops"]})
    return rows


def rollout_speed(config, samples: int, context: int, horizon: int, repeats: int) -> list[dict]:
    """Rollout of `samples` sequences over `horizon` steps, with and without the cache."""
    wm_cfg = validate(config)
    wm = WorldModel(wm_cfg)
    params = wm.init(jax.random.key(0))
    n, d = wm_cfg.tokens, wm_cfg.encoder.width
    states = jax.random.normal(jax.random.key(1), (samples, context, n, d))
    latents = jax.random.normal(jax.random.key(2), (samples, horizon, wm_cfg.bottleneck.latent_dim))
    fns = {name: blocking(jax.jit(functools.partial(wm.rollout, cache=cache)), params, states, latents)
           for name, cache in (("cached", True), ("uncached", False))}
    times = alternate(fns, repeats)
    diff = float(jnp.abs(fns["cached"]() - fns["uncached"]()).max())
    return [{"samples": samples, "context": context, "horizon": horizon, "cached_s": times["cached"],
             "uncached_s": times["uncached"], "speedup": times["uncached"] / times["cached"],
             "cached_steps_per_s": samples * horizon / times["cached"], "max_abs_diff": diff}]


def planning(config_paths, repeats: int, drives) -> list[dict]:
    from tools import bench_planning
    return bench_planning.run(config_paths, repeats, {}, drives)


# -- report -------------------------------------------------------------------------------
def _table(rows, columns) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.3e}"
        return str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


COLUMNS = {
    "peak": ["dtype", "n", "seconds", "flops_per_s"],
    "attention": ["variant", "pass", "shape", "steps", "ms", "ratio_to_first"],
    "encoder": ["encoder", "batch", "frames", "image_size", "dtype", "mode", "jax_frames_per_s",
                "pytorch_frames_per_s", "speedup", "max_abs_diff"],
    "train": ["what", "encoder", "idm", "predictor", "batch", "frames", "image_size", "dtype", "step_s", "clips_per_s",
              "tokens_per_s", "xla_flops_per_s", "hand_flops_per_s", "utilisation_xla", "utilisation_hand",
              "pytorch_step_s", "speedup", "note"],
    "memory": ["remat", "batch", "argument_bytes", "temp_bytes", "peak_bytes"],
    "scaling": ["axis", "value", "tokens", "step_s", "xla_flops_per_step"],
    "rollout": ["samples", "context", "horizon", "uncached_s", "cached_s", "speedup", "max_abs_diff"],
    "planning": ["config", "drive", "samples", "iterations", "horizon", "median_s", "compile_s"],
}


def markdown(report: dict) -> str:
    parts = [f"# Benchmark: {report['device']} ({report['config']})", ""]
    for section in SECTIONS:
        if section in report["sections"]:
            parts += [f"## {section}", "", _table(report["sections"][section], COLUMNS[section]), ""]
    return "\n".join(parts)


def scaling_plot(rows, out: str) -> str:
    from matplotlib.figure import Figure
    axes = list(dict.fromkeys(r["axis"] for r in rows))
    fig = Figure(figsize=(4 * len(axes), 3.2), dpi=100, layout="constrained")
    for i, axis in enumerate(axes):
        ax = fig.add_subplot(1, len(axes), i + 1)
        pts = [(r["value"], r["step_s"], r["tokens"]) for r in rows if r["axis"] == axis]
        x, y, tokens = zip(*pts)
        ax.plot(x, y, "o-", label="measured")
        ax.plot(x, [y[0] * t / tokens[0] for t in tokens], "--", color="gray",
                label="proportional to tokens (from the first point)")
        ax.set_xlabel(axis)
        ax.set_ylabel("train step (s)")
        ax.set_title(f"step time vs {axis}")
        ax.legend(fontsize=7)
    fig.savefig(out)
    return out


def write_report(report: dict, out: str) -> None:
    """benchmark.json, benchmark.md and scaling.png under `out` (after every section, so
    that an interrupted run keeps what it measured)."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "benchmark.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(out, "benchmark.md"), "w") as f:
        f.write(markdown(report))
    if report["sections"].get("scaling"):
        scaling_plot(report["sections"]["scaling"], os.path.join(out, "scaling.png"))


def _with_dtype(config, dtype: str):
    """A copy of the config with every network computing in `dtype`."""
    config = copy.deepcopy(config)
    for net in ("encoder", "idm", "predictor"):
        config.model[net]["dtype"] = dtype
    return config


def run(config, sections=SECTIONS, out: str = "") -> dict:
    """All requested sections; writes benchmark.json / .md / scaling.png under `out`."""
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown benchmark sections {sorted(unknown)}; choose from {SECTIONS}")
    b = config.bench
    report = {"device": jax.devices()[0].device_kind, "backend": jax.default_backend(),
              "config": config.get("bench_name", ""), "jax": jax.__version__, "python": platform.python_version(),
              "cpu_count": os.cpu_count(), "torch_threads": TORCH_THREADS, "sections": {}, "seconds": {}}
    res, seconds = report["sections"], report["seconds"]
    peak = {}

    def section(name, fn):
        t0 = time.perf_counter()
        res[name] = fn()
        seconds[name] = time.perf_counter() - t0
        print(f"benchmark: {name} done in {seconds[name]:.0f} s", flush=True)
        if out:
            write_report(report, out)
        return res[name]

    if "peak" in sections or "train" in sections:
        peak = {r["dtype"]: r["flops_per_s"] for r in section("peak", lambda: matmul_peak(b.matmul_size, b.repeats))}
    if "attention" in sections:
        section("attention", lambda: attention_speed(config, b.repeats))
    if "encoder" in sections:
        section("encoder", lambda: encoder_throughput([tuple(e) for e in b.encoders], b.repeats, b.reference,
                                                      config.model.encoder["dtype"]))
    if "train" in sections:
        section("train", lambda: [row for dtype in b.train_dtypes for row in train_throughput(
            _with_dtype(config, dtype), b.repeats, b.steps_per_run, peak, b.reference and dtype == "float32",
            list(b.ns_dtypes))])
    if "memory" in sections:
        section("memory", lambda: memory_by_batch(config, list(b.memory_batches)))
    if "scaling" in sections:
        section("scaling", lambda: scaling(config, {k: list(v) for k, v in b.scaling.items()}, b.repeats))
    if "rollout" in sections:
        r = b.rollout
        section("rollout", lambda: rollout_speed(copy.deepcopy(config), r.samples, r.context, r.horizon,
                                                 b.repeats))
    if "planning" in sections and b.planning_configs:
        section("planning", lambda: planning(list(b.planning_configs), b.repeats,
                                                      tuple(b.planning_drives)))
    return report


if __name__ == "__main__":
    from absl import app, flags
    from ml_collections import config_flags

    _CONFIG = config_flags.DEFINE_config_file("config", "configs/bench.py", "benchmark config (configs/bench.py[:gpu])")
    _SECTIONS = flags.DEFINE_list("sections", list(SECTIONS), f"which of {SECTIONS}")
    _OUT = flags.DEFINE_string("out", "/tmp/lawm_bench", "folder for benchmark.json, benchmark.md, scaling.png")

    def main(argv):
        del argv
        config = _CONFIG.value
        report = run(config, tuple(_SECTIONS.value), _OUT.value)
        print(markdown(report))
        print(f"\nwritten to {_OUT.value}/benchmark.json, benchmark.md")

    app.run(main)
