"""The `evaluate` job: the paper's evaluations of a trained LAM on held-out clips.

    python -m lawm_jax.main --config=configs/tiny.py --config.job=evaluate --workdir=/tmp/lawm_tiny \
        [--config.eval.decoder=/tmp/lawm_decoder] [--config.lpips_net=vgg]

WORKDIR is the training run's; results go to WORKDIR/eval (WORKDIR/eval_train with
eval.split=train, the training videos: the generalisation gap; WORKDIR/<eval.out> if
set; eval.label adds a line to every picture): one JSON per evaluation in
config.eval.kinds, results.json with all of them, and pictures:
  capacity   one-step error with IDM latents vs copying the last state   capacity.json
  leakage    error at spliced scene cuts vs the originals (Table 1)       leakage.json, leakage_profile.png
  transfer   cycle-consistency transfer across videos (Table 2)           transfer.json
  sampling   sampled vs inferred latents (App. B)                         sampling.json, latent_embedding.png
  pictures   real, IDM rollout, transferred rollout, as frame grids and    transfer_<i>.png, transfer_<i>.gif
             animations (decoded frames; without a decoder, states as colours)
Held-out clips: config.eval.path, else the videos config.data.holdout names (video
source), else fresh procedural clips (shapes). Pixel metrics need a decoder trained on
the same encoder (config.eval.decoder, a decoder job's WORKDIR); LPIPS (config.lpips_net,
AlexNet by default) needs the lpips extra installed or config.lpips_weights; results.json
names the network used ("lpips"). What is missing is said in the results' "notices".
"""
from __future__ import annotations

import dataclasses
import json
import os

import jax
import numpy as np
from absl import logging

from lawm_jax import plots
from lawm_jax.api import load_decoder, load_world_model
from lawm_jax.checkpoint import EVAL_DIR, RESULTS_FILE
from lawm_jax.config import check, validate
from lawm_jax.data.pipeline import evaluation_clips
from lawm_jax.errors import ConfigError
from lawm_jax.eval.capacity import capacity
from lawm_jax.eval.leakage import leakage
from lawm_jax.eval.pictures import rollout_examples, write_rollouts
from lawm_jax.eval.sampling import latent_sampling
from lawm_jax.eval.transfer import transfer, transfer_steps
from lawm_jax.models.lpips import load_for_run
from lawm_jax.progress import progress_bar


def _to_json(obj):
    """Results without their latent arrays, which go to the embedding picture."""
    if isinstance(obj, dict):
        return {k: _to_json(v) for k, v in obj.items() if k not in ("inferred", "sampled")}
    return obj


def evaluate(config, workdir: str) -> dict:
    """Runs config.eval.kinds on the LAM trained in `workdir`; returns the results (with
    arrays) and writes WORKDIR/eval."""
    validate(config, paths=True)
    kinds = check_eval(config.eval)
    model = load_world_model(workdir)
    wm_cfg = model.wm.config
    if wm_cfg.conditioning == "actions":
        raise ConfigError(f"{workdir} is an action-conditioned run (model.conditioning='actions'): it has no "
                          "latent actions to evaluate; compare it with job=plan (configs/arm.py:plan)")
    out_dir = os.path.join(workdir, config.eval.out or (EVAL_DIR if config.eval.split == "holdout"
                                                        else f"{EVAL_DIR}_{config.eval.split}"))
    os.makedirs(out_dir, exist_ok=True)
    notices = []
    data_cfg = config.data.copy_and_resolve_references()
    with data_cfg.unlocked():  # the clip shape the run was trained on
        data_cfg.frames, data_cfg.image_size = wm_cfg.frames, wm_cfg.image_size[0]
    q = wm_cfg.encoder.frames_per_step()
    video, ids = evaluation_clips(data_cfg, q, config.seed, config.eval.path, config.eval.stride,
                                  config.eval.max_clips, config.eval.split)
    logging.info("evaluating %s (step %d) on %d clips of %d %s videos", workdir, model.step, len(video),
                 len(np.unique(ids)), config.eval.split)

    decode = None
    if config.eval.decoder:
        decoder = load_decoder(config.eval.decoder, for_run=workdir)
        decode = decoder.decode
    else:
        notices.append("no decoder (config.eval.decoder): errors in representation space only")
    lpips_params, lpips_used = load_for_run(config.lpips_net, config.lpips_weights) if decode else (None, "")
    if decode is not None and lpips_params is None:
        notices.append(f"pixel L1, PSNR and SSIM only: {lpips_used}")

    def clips(frames: int):  # the same held-out clips, `frames` long
        cfg = data_cfg.copy_and_resolve_references()
        with cfg.unlocked():
            cfg.frames = frames
        return evaluation_clips(cfg, q, config.seed, config.eval.path, config.eval.stride, config.eval.max_clips,
                                config.eval.split)

    ctx = _Context(model, video, ids, q, config, decode, lpips_params, out_dir, notices, clips)
    results = {}
    for i, kind in enumerate(kinds):  # one bar over the evaluations: each takes seconds to minutes
        progress_bar(i, len(kinds), f"evaluating: {kind}")
        result = EVALUATIONS[kind](ctx)
        if result is not None:
            results[kind] = result
    progress_bar(len(kinds), len(kinds), "evaluations done")
    summary = {"run": os.path.abspath(workdir), "step": model.step, "bottleneck": wm_cfg.bottleneck.kind,
               "split": config.eval.split, "lpips": lpips_used if lpips_params is not None else None,
               "clips": int(len(video)), "videos": int(len(np.unique(ids))), "notices": notices,
               "eval": config.eval.to_dict(), **_to_json(results)}
    for kind, res in results.items():
        with open(os.path.join(out_dir, f"{kind}.json"), "w") as f:
            json.dump(_to_json(res), f, indent=2)
    with open(os.path.join(out_dir, RESULTS_FILE), "w") as f:
        json.dump(summary, f, indent=2)
    for notice in notices:
        logging.warning("%s", notice)
    logging.info("wrote %s\n%s", out_dir, results_table(summary))
    return {**summary, **results}


@dataclasses.dataclass(frozen=True)
class _Context:
    """What every evaluation reads: the run's model, the held-out clips (and the video each
    came from), frames per state, the job's config, the decoder and LPIPS weights (None
    when absent), where pictures go, the notices to report, and clips(frames): the held-
    out clips read again at another length."""
    model: object
    video: np.ndarray
    ids: np.ndarray
    q: int
    config: object
    decode: object
    lpips: object
    out_dir: str
    notices: list
    clips: object


def _capacity(c: _Context):
    return capacity(c.model, c.video, c.config.eval.batch, c.decode, c.lpips)


def _leakage(c: _Context):
    result = leakage(c.model, c.video, c.ids, c.q, None, c.config.eval.batch, c.decode, c.lpips)
    rows = {metric: {name: result[name][metric]["profile"] for name in ("model", "copy_last")}
            for metric in ("repr_l1", "lpips") if metric in result["model"]}
    plots.leakage_profile(rows, result["cut_step"], os.path.join(c.out_dir, "leakage_profile.png"),
                          c.config.eval.label)
    return result


def _transfer(c: _Context):
    """The paper's horizon: eval.transfer_seconds predicted after every earlier step of
    the clip; clips too short for one context step are read again, longer."""
    horizon = transfer_steps(c.config.eval.transfer_seconds, c.config.data.fps, c.q)
    video, ids = c.video, c.ids
    if video.shape[1] // c.q < horizon + 1:
        video, ids = c.clips((horizon + 1) * c.q)
    result = transfer(c.model, video, ids, c.q, video.shape[1] // c.q - horizon, c.config.eval.batch, c.decode,
                      c.lpips)
    return {**result, "predicted_seconds": horizon * c.q / c.config.data.fps}


def _pictures(c: _Context):
    examples = rollout_examples(c.model, c.video, c.ids, c.q, c.config.eval.context, c.config.eval.pictures,
                                c.decode)
    write_rollouts(examples, c.ids, c.out_dir, "transfer", ("png", "gif"), c.config.data.fps, c.q,
                   c.config.eval.context, c.decode is not None, c.config.eval.label)
    if c.decode is None:
        c.notices.append("pictures without a decoder (config.eval.decoder) show the states as colours "
                         "(3 principal components per token)")
    return None  # pictures only


def _sampling(c: _Context):
    cfg, model, batch = c.model.wm.config.bottleneck, c.model, c.config.eval.batch
    if cfg.kind not in ("noisy", "vq", "sparse"):
        c.notices.append(f"sampling: the {cfg.kind} bottleneck has no prior to sample")
        return None
    # Noisy: posterior samples mu + sigma * eps (the aggregate posterior is what should
    # match the prior); the others are deterministic at inference.
    infer = jax.jit(lambda p, s, k: model.wm.infer_actions(p, s, k, train=cfg.kind == "noisy").z)
    keys = jax.random.split(jax.random.key(c.config.seed + 7), len(c.video))
    inferred = np.concatenate([np.asarray(infer(model.params, model.encode(c.video[i:i + batch]), keys[i]))
                               for i in range(0, len(c.video), batch)]).reshape(-1, cfg.latent_dim)
    result = latent_sampling(cfg, inferred, jax.random.key(c.config.seed), model.params["bottleneck"].get("codebook"),
                             c.config.eval.sgld_steps, c.config.eval.sgld_step_size)
    if not result.get("sgld_converged", True):
        c.notices.append(f"sampling: the Langevin chains had not converged (their mean |z| still moved "
                         f"{result['sgld_drift']:.2f} spreads over the second half; one scale length of the "
                         f"target takes ~{result['sgld_scale_steps']:.0e} steps at this step size): the samples "
                         "are nearer their start than the prior; raise eval.sgld_steps or eval.sgld_step_size")
    plots.latent_embedding({"inferred (held out)": result["inferred"], "sampled": result["sampled"]},
                           os.path.join(c.out_dir, "latent_embedding.png"),
                           f"{cfg.kind} latents: inferred vs sampled (PCA)"
                           + (f"\n{c.config.eval.label}" if c.config.eval.label else ""))
    return result


# config.eval.kinds -> the evaluation; a new one is a function and a line here
EVALUATIONS = {"capacity": _capacity, "leakage": _leakage, "transfer": _transfer, "sampling": _sampling,
               "pictures": _pictures}


def check_eval(e) -> list[str]:
    """Checks config.eval (the evaluate job's own section); returns its kinds."""
    kinds = [k.strip() for k in e.kinds.split(",") if k.strip()]
    check(bool(kinds) and set(kinds) <= set(EVALUATIONS), "eval.kinds", e.kinds,
          f"name one or more of {tuple(EVALUATIONS)}, comma-separated")
    for field in ("batch", "context", "sgld_steps"):
        check(e[field] >= 1, f"eval.{field}", e[field], "must be >= 1")
    for field in ("stride", "max_clips", "pictures"):
        check(e[field] >= 0, f"eval.{field}", e[field], "must be >= 0")
    check(e.split in ("holdout", "train"), "eval.split", e.split, 'must be "holdout" or "train"')
    check(e.out == os.path.basename(e.out) and e.out not in (".", ".."), "eval.out", e.out,
          "must be a folder name under WORKDIR (no path separators), or empty")
    check(e.sgld_step_size > 0, "eval.sgld_step_size", e.sgld_step_size, "must be > 0")
    check(e.transfer_seconds > 0, "eval.transfer_seconds", e.transfer_seconds, "must be > 0 (the paper: 2.0)")
    return kinds


def results_table(summary: dict) -> str:
    """The headline numbers of an evaluation's results.json, one row per evaluation and metric."""
    rows = ["| evaluation | metric | model | reference |", "|---|---|---|---|"]
    cap = summary.get("capacity")
    if cap:
        rows += [f"| capacity (one-step error) | {m} | {v:.4f} | copy last: {cap['copy_last'][m]:.4f} |"
                 for m, v in cap["model"].items()]
    leak = summary.get("leakage")
    if leak:
        rows += [f"| leakage (error at the cut / without) | {m} | ×{r['ratio']:.2f} | copy last: "
                 f"×{leak['copy_last'][m]['ratio']:.2f} |" for m, r in leak["model"].items()]
    trans = summary.get("transfer")
    if trans:
        rows += [f"| transfer (cycled / original error, {trans['predicted_seconds']:g} s) | {m} | ×{v:.2f} | |"
                 for m, v in trans["ratio"].items()]
    samp = summary.get("sampling")
    if samp:
        rows += [f"| sampling (separability, 0.5 = same) | - | {samp['separability']:.3f} | |"]
    return "\n".join(rows)

