"""Pictures of rollouts (paper Figs 5/7/8): for clips of distinct held-out videos A, each
paired with a clip of another video B, the rows

    A: real | A: IDM rollout | B: real | B: A's latents | A: cycled latents

(`transfer.cycle`): A rolled out from its first `context` steps with its own inferred
latents, B's context driven by A's latents, and A driven by the latents re-inferred on
that B. With a pixel decoder the predictions are decoded frames after the real context
frames; without one every row shows the states themselves, each token's first three
principal components as colours (fitted on A's and B's real states, so real and
predicted rows share one colour scale): a coarse picture, one pixel per patch, but
honest about what the world model predicts.
"""
from __future__ import annotations

import json
import os

import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from lawm_jax import plots
from lawm_jax.api import load_decoder, load_world_model
from lawm_jax.checkpoint import CURVES_FILE, METRICS_FILE, PICTURES_DIR, WORLD_MODEL_FILE
from lawm_jax.data.pipeline import evaluation_clips
from lawm_jax.eval.leakage import partners
from lawm_jax.eval.transfer import check_context, cycle

ROWS = ("A: real", "A: IDM rollout", "B: real", "B: A's latents", "A: cycled latents")


def pick_examples(video_ids, count: int) -> list[int]:
    """The first clip of each of the first `count` distinct videos (neighbouring windows
    of one video look alike)."""
    ids = np.asarray(video_ids)
    _, first = np.unique(ids, return_index=True)
    return sorted(int(i) for i in first)[:count]


def rollout_examples(model, video, video_ids, frames_per_step: int, context: int = 1, count: int = 2,
                     decode=None, grid: tuple[int, int] | None = None) -> list[dict]:
    """Up to `count` examples, each {row label: uint8 (F, H, W, 3)} (decoded frames) or
    {row label: uint8 (T, gh, gw, 3)} (states as colours; `grid` is the token grid, the
    model's by default). `model` needs encode / infer_actions / rollout."""
    t = video.shape[1] // frames_per_step
    check_context(context, t)
    chosen = pick_examples(video_ids, count)
    if not chosen:
        return []
    a, b = video[chosen], video[partners(video_ids)[chosen]]
    s_a, s_b = model.encode(a), model.encode(b)
    a_orig, a_cycled, b_pred = cycle(model, s_a, s_b, context)
    # each predicted row: (the clip whose context it starts from, that clip's states, the prediction)
    predicted = {"A: IDM rollout": (a, s_a, a_orig), "B: A's latents": (b, s_b, b_pred),
                 "A: cycled latents": (a, s_a, a_cycled)}
    c = context * frames_per_step
    if decode is not None:
        rows = {"A: real": np.asarray(a), "B: real": np.asarray(b)}
        for label, (clip, states, pred) in predicted.items():
            frames = np.asarray(decode(jnp.concatenate([states[:, :context], pred], axis=1)))[:, c:]
            frames = np.clip(frames * 255.0 + 0.5, 0, 255).astype(np.uint8)
            rows[label] = np.concatenate([np.asarray(clip)[:, :c], frames], axis=1)
    else:
        rows = {"A: real": np.asarray(s_a), "B: real": np.asarray(s_b)}
        for label, (_, states, pred) in predicted.items():
            rows[label] = np.concatenate([np.asarray(states)[:, :context], np.asarray(pred)], axis=1)
    examples = []
    for i in range(len(chosen)):
        example = {label: rows[label][i] for label in ROWS}
        if decode is None:
            grid = grid or model.wm.config.grid
            example = plots.state_colours(example, grid, reference=np.concatenate([example["A: real"],
                                                                                   example["B: real"]]))
        examples.append(example)
    return examples


def write_pictures(examples: list[dict], out_dir: str, prefix: str = "transfer", formats=("png", "gif"),
                   fps: float = 4.0, titles=None, context: int = 0) -> list[str]:
    """Each example as PREFIX_<i>.png (frame grid: its title, each column's time at `fps`
    columns a second, a red line after the first `context` columns) and, per other format,
    an animation (.gif or .mp4) of its rows side by side in time; returns the paths
    written. States drawn as colours (a few pixels) are upscaled more than decoded frames."""
    paths = []
    for i, example in enumerate(examples):
        size = next(iter(example.values())).shape[1]
        scale = max(3, 96 // size)
        columns = max(len(v) for v in example.values())
        times = [f"{f / fps:.2f} s" for f in range(columns)]
        for fmt in formats:
            path = f"{out_dir}/{prefix}_{i}.{fmt}"
            paths.append(plots.frame_grid(example, path, scale=scale, title=titles[i] if titles else "", times=times,
                                          context=context) if fmt == "png"
                         else plots.animation(example, path, fps=fps, scale=scale))
    return paths


def write_rollouts(examples: list[dict], video_ids, out_dir: str, prefix: str, formats, fps: float,
                   frames_per_step: int, context: int, decoded: bool, label: str = "") -> list[str]:
    """write_pictures for rollout_examples' pictures: each titled with its videos A and B
    and what the rows show (and `label`, e.g. the run), columns timed as frames (decoded)
    or states, the red line after the `context` real steps."""
    chosen = pick_examples(video_ids, len(examples))
    partner = partners(video_ids)
    what = "decoded frames" if decoded else "states as colours"
    titles = [f"A: {video_ids[i]}   B: {video_ids[partner[i]]}   ({what}; {context} real step(s), then predicted)"
              + (f"   [{label}]" if label else "") for i in chosen]
    per_column = 1 if decoded else frames_per_step  # frames a column shows
    return write_pictures(examples, out_dir, prefix, formats, fps / per_column, titles, context * frames_per_step
                          // per_column)


def draw_run(workdir: str, out_dir: str = "", decoder: str = "", examples: int = 2, formats=("png", "gif"),
             data_path: str = "", context: int = 1) -> list[str]:
    """The pictures of a training run, in `out_dir` (WORKDIR/pictures by default): its
    training curves (and the decoder's), and `examples` rollout pictures (frame grid +
    animations; module docstring) of held-out clips: the videos the run held out, or the
    data at `data_path`, read as the run's data source. Returns the paths written."""
    model = load_world_model(workdir)  # first: it names what is wrong with a workdir that is not a run
    cfg = model.wm.config
    with open(os.path.join(workdir, WORLD_MODEL_FILE)) as f:
        saved = ml_collections.ConfigDict(json.load(f)["config"])
    out_dir = out_dir or os.path.join(workdir, PICTURES_DIR)
    os.makedirs(out_dir, exist_ok=True)
    written = [plots.training_curves(os.path.join(run, METRICS_FILE), os.path.join(out_dir, name))
               for run, name in ((workdir, CURVES_FILE), (decoder, "decoder_curves.png"))
               if run and os.path.exists(os.path.join(run, METRICS_FILE))]
    if cfg.conditioning == "actions":
        logging.warning("%s is action-conditioned: no latent actions, so no rollout pictures", workdir)
        return written
    data_cfg = saved.data
    data_cfg.frames, data_cfg.image_size = cfg.frames, cfg.image_size[0]
    q = cfg.encoder.frames_per_step()
    video, ids = evaluation_clips(data_cfg, q, saved.seed, data_path, max_clips=max(64, 8 * examples))
    decode = load_decoder(decoder, for_run=workdir).decode if decoder else None
    chosen = rollout_examples(model, video, ids, q, context, examples, decode)
    return written + write_rollouts(chosen, ids, out_dir, "rollout", formats, data_cfg.fps, q, context,
                                    decode is not None)
