"""PNG plots of a run's numbers (matplotlib's object API: no global backend is changed,
so notebooks keep their inline backend)."""
from __future__ import annotations

import json
import os

import numpy as np

# (title, metric keys, log y-axis); panels whose keys never appear are left out.
PANELS = (
    ("loss", ("loss", "pred_l1", "latent_loss", "pixel_l1", "lpips"), True),
    ("PSNR dB (decoder)", ("psnr",), False),
    ("controller error / target scale", ("rel_error",), True),
    ("gradient norm", ("grad_norm",), True),
    ("learning rate", ("lr/muon", "lr/adam"), False),
    ("latent norm", ("bottleneck/latent_norm",), False),
    ("KL (noisy)", ("bottleneck/kl",), False),
    ("code perplexity (vq)", ("bottleneck/perplexity",), False),
    ("near-zero fraction (sparse)", ("bottleneck/near_zero_frac",), False),
    ("throughput (clips/s)", ("throughput/clips_per_s",), False),
    ("data wait (fraction of time)", ("time/data_wait_frac",), False),
)


def read_metrics(path: str) -> list[dict]:
    """Rows of a metrics.jsonl, one per step (the last row written for a step wins: a run
    killed after logging and resumed from an earlier checkpoint logs those steps again)."""
    rows = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                rows[row["step"]] = row
    return [rows[s] for s in sorted(rows)]


def training_curves(metrics_path: str, out: str) -> str:
    """A metrics.jsonl -> a PNG of its curves, one panel per group of PANELS; returns `out`."""
    from matplotlib.figure import Figure

    rows = read_metrics(metrics_path)
    if not rows:
        raise ValueError(f"{metrics_path} has no rows to plot")
    panels = [(title, [k for k in keys if any(k in r for r in rows)], log)
              for title, keys, log in PANELS]
    panels = [p for p in panels if p[1]]
    cols = 3
    nrows = -(-len(panels) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.0 * nrows), dpi=100, layout="constrained")
    for i, (title, keys, log) in enumerate(panels):
        ax = fig.add_subplot(nrows, cols, i + 1)
        for key in keys:
            pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
            if pts:
                ax.plot(*zip(*pts), label=key, marker="." if len(pts) < 30 else None)
        if log and all(v > 0 for line in ax.get_lines() for v in line.get_ydata()):
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(os.path.basename(os.path.dirname(os.path.abspath(metrics_path))))
    fig.savefig(out)
    return out


def pca_2d(*groups, components: int = 2, fit=None):
    """Projects every group of vectors (N_i, D) onto the first `components` principal axes
    of `fit` (N, D), by default of all the groups together; returns one (N_i, components)
    array per group."""
    arrays = [np.asarray(g, np.float64) for g in groups]
    stacked = np.concatenate(arrays) if fit is None else np.asarray(fit, np.float64)
    mean = stacked.mean(0)
    _, _, vt = np.linalg.svd(stacked - mean, full_matrices=False)
    return [(a - mean) @ vt[:components].T for a in arrays]


def latent_embedding(groups: dict, out: str, title: str = "latent actions (PCA)") -> str:
    """Scatter plot of named groups of latents, e.g. {"inferred": z_idm, "sampled": z_prior},
    in the 2-D PCA of all of them (paper App. B, Fig. S1); returns `out`."""
    from matplotlib.figure import Figure

    projected = pca_2d(*groups.values())
    fig = Figure(figsize=(5, 5), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for (name, _), xy in zip(groups.items(), projected):
        ax.scatter(xy[:, 0], xy[:, 1], s=6, alpha=0.5, label=f"{name} ({len(xy)})")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title)
    ax.legend()
    fig.savefig(out)
    return out


def _grid_image(rows: dict, scale: int, gap: int, columns=None, title: str = "", times=None, context: int = 0):
    """The PIL image of frame_grid (or of `columns`, a list of frame numbers, only)."""
    from PIL import Image, ImageDraw

    clips = [np.asarray(v) for v in rows.values()]
    h, w = clips[0].shape[1:3]
    columns = list(range(max(len(c) for c in clips))) if columns is None else columns
    label_w = 8 + 7 * max(len(k) for k in rows)
    H, W = h * scale, w * scale
    top = (14 if title else 0) + (12 if times is not None else 0)
    canvas = Image.new("RGB", (label_w + len(columns) * (W + gap), top + len(clips) * (H + gap)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 1), title, fill=(0, 0, 0))
    if times is not None:
        for i, f in enumerate(columns):
            draw.text((label_w + i * (W + gap) + 2, top - 11), times[f], fill=(80, 80, 80))
    for r, (label, clip) in enumerate(zip(rows, clips)):
        y = top + r * (H + gap)
        draw.text((4, y + H // 2 - 5), label, fill=(0, 0, 0))
        for i, f in enumerate(columns):
            tile = (Image.fromarray(clip[f]).resize((W, H), Image.NEAREST) if f < len(clip)
                    else Image.new("RGB", (W, H), (128, 128, 128)))
            canvas.paste(tile, (label_w + i * (W + gap), y))
    if 0 < context < len(columns) and columns == list(range(len(columns))):  # where the real context ends
        x = label_w + context * (W + gap) - gap // 2 - 1
        draw.line([(x, top), (x, canvas.size[1])], fill=(220, 0, 0), width=max(gap, 2))
    return canvas


def frame_grid(rows: dict, out: str, scale: int = 3, gap: int = 2, title: str = "", times=None,
               context: int = 0) -> str:
    """Writes a PNG with one row of frames per entry of `rows` ({label: uint8 (F, H, W, C)},
    rows of equal frame size; shorter rows are padded with grey), the label to the left;
    frames are upscaled `scale` x (nearest) so small clips stay visible. Optional: a
    `title` line, `times` (a label per column, e.g. "0.5 s") and a red line after the first
    `context` columns (the real context before predictions). Returns `out`."""
    _grid_image(rows, scale, gap, title=title, times=times, context=context).save(out)
    return out


def animation(rows: dict, out: str, fps: float = 4.0, scale: int = 4, gap: int = 2) -> str:
    """The rows of frame_grid played over time, stacked with their labels: a GIF (Pillow,
    looping) or an MP4 (H.264 through PyAV), by the extension of `out`. Returns `out`."""
    frames = [_grid_image(rows, scale, gap, [f]) for f in range(max(len(v) for v in rows.values()))]
    ext = os.path.splitext(out)[1].lower()
    if ext == ".gif":
        frames[0].save(out, save_all=True, append_images=frames[1:], duration=round(1000 / fps), loop=0)
    elif ext == ".mp4":
        import av
        from fractions import Fraction

        w, h = frames[0].size
        with av.open(out, "w") as container:
            stream = container.add_stream(mp4_codec(av.codecs_available), rate=Fraction(fps).limit_denominator(1000))
            stream.width, stream.height, stream.pix_fmt = w + w % 2, h + h % 2, "yuv420p"  # even sizes for yuv420p
            for img in frames:
                arr = np.zeros((stream.height, stream.width, 3), np.uint8)
                arr[:h, :w] = np.asarray(img)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")))
            container.mux(stream.encode())
    else:
        raise ValueError(f"animation {out!r}: the extension picks the format, .gif or .mp4")
    return out


MP4_CODECS = ("libx264", "libopenh264", "mpeg4")  # H.264 where FFmpeg has an encoder, else MPEG-4 Part 2


def mp4_codec(available) -> str:
    """The first of MP4_CODECS that this FFmpeg (PyAV's) can encode with."""
    for codec in MP4_CODECS:
        if codec in available:
            return codec
    raise ValueError(f"PyAV's FFmpeg has none of the encoders {', '.join(MP4_CODECS)} for an MP4: "
                     "write a .gif instead (tools/visualize.py --formats=png,gif)")


def state_colours(groups: dict, grid: tuple[int, int], reference=None) -> dict:
    """Representations as pictures: each token's first three principal components (fitted
    on `reference`, (T, N, D), or on all of `groups`) as RGB, one (gh, gw) image per state,
    so that real and predicted states share one colour scale. groups: {label: (T, N, D)}
    -> {label: uint8 (T, gh, gw, 3)}."""
    flat = [np.asarray(v, np.float32).reshape(-1, np.shape(v)[-1]) for v in groups.values()]
    ref = np.concatenate(flat) if reference is None else np.reshape(reference, (-1, flat[0].shape[-1]))
    ref_proj, *projected = pca_2d(ref, *flat, components=3, fit=ref)
    lo, hi = np.percentile(ref_proj, 1, axis=0), np.percentile(ref_proj, 99, axis=0)
    out = {}
    for (label, states), proj in zip(groups.items(), projected):
        rgb = np.clip((proj - lo) / np.maximum(hi - lo, 1e-8), 0, 1)
        out[label] = (rgb * 255 + 0.5).astype(np.uint8).reshape(np.shape(states)[0], *grid, 3)
    return out


REFERENCE_STYLES = {"deterministic": ("k", "--"), "unconstrained": ("k", ":"), "copy_last": ("r", "-."),
                    "decoded real states": ("g", "-.")}


def capacity_curve(rows: list[dict], out: str, metric: str = "repr_l1", title: str = "") -> str:
    """The paper's Fig. 4: one-step error against the constraint's coefficient, one line
    per bottleneck kind (sparse λ_l1 and noisy β on the log axis, VQ codebook sizes on a
    second axis along the top), and the references (deterministic, unconstrained, copying
    the last state) as horizontal lines. rows: {"kind", "coef" (None for a reference),
    metric, optionally METRIC_std (error bars; a band for a reference)}; a reference
    without the metric is left out."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for i, kind in enumerate(sorted({r["kind"] for r in rows if r.get("coef") is not None})):
        pts = sorted((r["coef"], r[metric], r.get(f"{metric}_std", 0.0)) for r in rows
                     if r["kind"] == kind and r.get("coef") is not None)
        if kind == "vq":  # more codes = more capacity, to the right
            top = ax.twiny()
            top.errorbar(range(len(pts)), [p[1] for p in pts], [p[2] for p in pts], fmt="s-", color="C2",
                         capsize=3, label="vq (codebook size, top)")
            top.set_xticks(range(len(pts)), [str(int(p[0])) for p in pts])
            top.legend(loc="lower left", bbox_to_anchor=(1.02, 0), fontsize=8)
        else:
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts], fmt="o-", color=f"C{i}",
                        capsize=3, label=kind)
    for r in rows:
        if r.get("coef") is None and metric in r:
            color, style = REFERENCE_STYLES.get(r["kind"], ("k", "-"))
            ax.axhline(r[metric], color=color, linestyle=style, label=r["kind"])
            if r.get(f"{metric}_std"):  # the seeds' spread of a bound
                ax.axhspan(r[metric] - r[f"{metric}_std"], r[metric] + r[f"{metric}_std"], color=color, alpha=0.12)
    ax.set_xscale("log")
    ax.invert_xaxis()  # less constraint (more capacity) to the right, as in the paper
    ax.set_xlabel("coefficient (sparse λ_l1, noisy β; smaller = more capacity)")
    ax.set_ylabel(f"one-step {metric}")
    ax.set_title(title or "capacity (paper Fig. 4)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
    fig.savefig(out)
    return out


def leakage_profile(rows: dict, cut_step: int, out: str, title: str = "") -> str:
    """Error of each transition of spliced clips, the cut marked: one panel per metric
    ({metric: {name: profile}}), in the metric's own units (a jump reads as its size);
    `title` over the panels."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(rows), 3.2), dpi=100, layout="constrained")
    for i, (metric, lines) in enumerate(rows.items()):
        ax = fig.add_subplot(1, len(rows), i + 1)
        for name, profile in lines.items():
            p = np.asarray(profile)
            ax.plot(np.arange(1, len(p) + 1), p, "o-", label=name)
        ax.axvline(cut_step, color="k", linestyle=":", label="cut")
        ax.set_xticks(range(1, len(p) + 1))
        ax.set_ylim(bottom=0)
        ax.set_xlabel("predicted step")
        ax.set_ylabel(metric)
        ax.set_title(f"spliced clips: {metric} per step")
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(out)
    return out


SCALING_AXES = {"steps": "training steps", "width": "IDM/predictor width (x config)",
                "data": "share of training data"}


def scaling_curves(rows: list[dict], out: str, metric: str = "repr_l1", title: str = "") -> str:
    """The paper's Fig. 12: one panel per scaling axis of rows ({"kind", "axis", "value",
    metric, optionally METRIC_std: error bars over seeds}) with two or more values, one
    line per bottleneck kind; `title` over the panels. Returns `out`."""
    from matplotlib.figure import Figure

    axes = [a for a in SCALING_AXES if len({r["value"] for r in rows if r["axis"] == a}) > 1]
    fig = Figure(figsize=(3.4 * len(axes), 3.2), dpi=100, layout="constrained")
    for i, axis in enumerate(axes):
        ax = fig.add_subplot(1, len(axes), i + 1)
        for kind in sorted({r["kind"] for r in rows}):
            pts = sorted((r["value"], r[metric], r.get(f"{metric}_std", 0.0)) for r in rows
                         if r["kind"] == kind and r["axis"] == axis)
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts], fmt="o-", capsize=3,
                        label=kind)
        ax.set_xscale("log")
        values = sorted({r["value"] for r in rows if r["axis"] == axis})
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.minorticks_off()
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_xlabel(SCALING_AXES[axis])
        ax.set_ylabel(f"held-out one-step {metric}")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(out)
    return out


def planned_paths(paths: dict, out: str, title: str = "x-y (m)") -> str:
    """One panel per episode: the true path and each method's planned path, (K, 2)
    points each; paths = {"true": [per episode], method: [per episode], ...}."""
    from matplotlib.figure import Figure

    n = len(paths["true"])
    if n == 0:
        raise ValueError(f"no episodes to draw in {out}")
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = Figure(figsize=(3 * cols + 1.5, 3 * rows), dpi=100, layout="constrained")
    for e in range(n):
        ax = fig.add_subplot(rows, cols, e + 1)
        for name, per_episode in paths.items():
            p = np.asarray(per_episode[e])
            style = dict(color="k", linewidth=2.5) if name == "true" else dict(linewidth=1.2)
            ax.plot(p[:, 0], p[:, 1], "o-", markersize=3, label=name, **style)
        ax.plot(*np.asarray(paths["true"][e])[0], "ks", markersize=7)  # the start
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(f"episode {e}", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
    fig.suptitle(title + "; start = square", fontsize=10)
    fig.savefig(out)
    return out
