"""When does the latent action matter? The deterministic model (no latent) against the
unconstrained one (the latent's upper bound), changing one thing at a time, on procedural
moving shapes whose velocities are redrawn every step (motion no context can predict):

    python experiments/latent_regime.py --root=/tmp/lawm_regime

Each row trains the tiny config twice (deterministic, unconstrained; --steps is the base
row's step count, 300 unless given) and scores the one-step representation L1 with IDM
latents on 256 of its own training clips and on 256 unseen clips (another generator
seed), beside copying the last state. gap = 1 - unconstrained / deterministic: the share
of the deterministic model's error the latent removes (the issue's target: >= 10% on
both). Rows (one change from base each):

  base           tiny config: 512 training clips, 300 steps, residual predictor, latent 16
  steps_x3       3x the steps
  lr_x3          3x both learning rates (AdamW 3e-3, Muon 0.06)
  no_residual    the predictor outputs s_{t+1} itself, not s_{t+1} - s_t
  no_adaln_zero  the latent's modulation starts small and random, not at zero
  latent_64      latent dimension 64
  width_128      IDM and predictor width 128 (from 64)
  per_frame      one state per frame (velocity redrawn every frame), not per 2-frame tubelet
  clips_8192     16x the training clips: a set the model cannot memorise at this size
  clips_8192_x3  and 3x the steps
  clips_8192_x10 and 10x the steps

Writes ROOT/latent_regime.{md,json}; runs already trained under --root are reused.
"""
import dataclasses
import os

from absl import app, flags

import common
from configs import tiny
from lawm_jax.data.pipeline import evaluation_clips
from lawm_jax.data.synthetic import ShapesConfig, moving_shapes
from lawm_jax.eval.capacity import one_step_error
from lawm_jax.models.encoder import EncoderConfig
from lawm_jax.progress import quiet_library_logs
from lawm_jax.train.lam import train

ALEXNET_64 = {"model.encoder": dataclasses.asdict(EncoderConfig.preset("alexnet", layer=2, width=192)),
              "data.image_size": 64}
VARIANTS = {  # row -> (config changes, steps factor)
    "base": ({}, 1),
    "steps_x3": ({}, 3),
    "lr_x3": ({"train.adam_lr": 3e-3, "train.muon_lr": 0.06}, 1),
    "no_residual": ({"model.predictor.residual": False}, 1),
    "latent_64": ({"model.bottleneck.latent_dim": 64}, 1),
    "width_128": ({"model.idm.width": 128, "model.idm.mlp_hidden": 256, "model.predictor.width": 128,
                   "model.predictor.mlp_hidden": 256}, 1),
    "per_frame": ({"model.encoder.mode": "per_frame"}, 1),
    "clips_8192": ({"data.num_clips": 8192}, 1),
    "clips_8192_x3": ({"data.num_clips": 8192}, 3),
    "clips_8192_x10": ({"data.num_clips": 8192}, 10),
    "steps_x10": ({}, 10),
    "change_0.5": ({"data.scenes.change": 0.5}, 1),
    "change_0": ({"data.scenes.change": 0.0}, 1),
    "per_frame_x3": ({"model.encoder.mode": "per_frame"}, 3),
    "no_adaln_zero": ({"model.predictor.adaln_zero": False}, 1),
    "alexnet_64": (ALEXNET_64, 1),
    "alexnet_64_x3": (ALEXNET_64, 3),
    "still_camera": ({"data.scenes.camera_still": 1.0, "data.scenes.exogenous": 0.0}, 1),
    "per_frame_still": ({"model.encoder.mode": "per_frame", "data.scenes.camera_still": 1.0,
                         "data.scenes.exogenous": 0.0}, 1),
}
DEFAULT_ROWS = {"shapes": ["base", "steps_x3", "lr_x3", "no_residual", "no_adaln_zero", "latent_64", "width_128",
                           "per_frame", "clips_8192", "clips_8192_x3", "clips_8192_x10"],
                "scenes": ["base", "steps_x3", "lr_x3", "latent_64", "per_frame", "change_0.5", "change_0",
                           "steps_x10", "no_adaln_zero", "still_camera", "per_frame_still", "per_frame_x3",
                           "alexnet_64", "alexnet_64_x3"]}
SOURCE = flags.DEFINE_enum("source", "shapes", list(DEFAULT_ROWS), "moving shapes, or scenes over photographs")
ROWS = flags.DEFINE_list("variants", [], f"which of {list(VARIANTS)} (default: the source's rows)")
EVAL_CLIPS = 256
WHAT = {"shapes": "moving shapes", "scenes": "scenes over photographs (train: unseen clips over the training "
        "photographs; held-out: over the held-out photographs)"}


def variant_config(name: str, kind: str):
    """The tiny config on moving shapes with this row's changes."""
    c = tiny.get_config(kind)
    changes, factor = VARIANTS[name]
    c.data.source = SOURCE.value
    if SOURCE.value == "scenes":
        c.data.path = "skimage"
    c.seed = common.SEED.value
    c.train.steps = (common.STEPS.value or c.train.steps) * factor
    c.train.progress_bar = False
    c.train.log_every = c.train.ckpt_every = c.train.steps
    for key, value in changes.items():
        section, name = common.field(c, key)
        section[name] = value
    return c


def errors(name: str, kind: str) -> dict:
    """One-step L1 on training clips and unseen clips, and copying the last state on each."""
    c = variant_config(name, kind)
    prefix = "" if SOURCE.value == "shapes" else f"{SOURCE.value}_"
    wm, params, _ = train(c, os.path.join(common.ROOT.value, f"{prefix}{name}_{kind}"))
    q = wm.config.encoder.frames_per_step()
    probe = {}
    if SOURCE.value == "scenes":  # unseen scenes over the training photographs, and over held-out ones
        seen = evaluation_clips(c.data, q, c.seed, split="train", max_clips=EVAL_CLIPS)[0]
        unseen, probe = common.motion_probe(wm, params, c.data, c.seed, q, EVAL_CLIPS)
    else:
        shapes = ShapesConfig(num_clips=c.data.num_clips, frames=c.data.frames, image_size=c.data.image_size,
                              frames_per_step=q)
        seen = moving_shapes(shapes, seed=c.seed)[0][:EVAL_CLIPS]  # the training set's (the run's seed)
        unseen = moving_shapes(shapes, seed=10_000 + c.seed)[0][:EVAL_CLIPS]
    return {"train": one_step_error(wm, params, seen), "held_out": one_step_error(wm, params, unseen),
            "steps": c.train.steps, "probe": probe}


def main(argv):
    del argv
    quiet_library_logs()
    rows = []
    for name in ROWS.value or DEFAULT_ROWS[SOURCE.value]:
        det, unc = errors(name, "deterministic"), errors(name, "unconstrained")
        row = {"variant": name, "steps": det["steps"], "probe_r2": unc["probe"]}
        for split in ("train", "held_out"):
            d, u = det[split]["pred_l1"], unc[split]["pred_l1"]
            row[split] = {"deterministic": d, "unconstrained": u, "copy_last": det[split]["copy_last_l1"],
                          "gap": 1 - u / d}
        rows.append(row)
    probes = sorted({k for r in rows for k in r["probe_r2"]})
    header = ["variant", "steps"] + [f"{col} ({split})" for split in ("train", "held-out")
                                     for col in ("deterministic", "unconstrained", "copy_last", "gap")]
    header += [f"R² {p}" for p in probes]
    body = [f"`{common.command_line()}`", "",
            f"One-step representation L1 with IDM latents on {WHAT[SOURCE.value]} (tiny config, one seed); "
            "gap = 1 - unconstrained / deterministic."
            + (" R²: a linear probe from the unconstrained model's latent of each held-out transition to the "
               "recorded camera / agent motion (eval/motion_probe.py; the deterministic model's is 0), and from "
               "the state change itself (the top 64 principal components of s_{t+1} - s_t): what this encoder's "
               "states carry linearly, a ceiling for any latent. R² state change: from the latent to the top 8 "
               "principal components of the state change (what it carries instead)." if probes else ""), "",
            common.table(header, [[r["variant"], r["steps"]] + [r[s][k] for s in ("train", "held_out")
                                                                  for k in ("deterministic", "unconstrained",
                                                                            "copy_last", "gap")]
                                  + [r["probe_r2"].get(p, "") for p in probes] for r in rows])]
    name = "latent_regime" + ("" if SOURCE.value == "shapes" else f"_{SOURCE.value}")
    path = common.write_report(name, "When the latent action matters", "\n".join(body), rows)
    print(open(path).read())


if __name__ == "__main__":
    app.run(main)
