"""Which frozen encoder for the laptop-scale demo: the tiny config's random ViT or the
ImageNet-pretrained AlexNet (model.encoder.kind="alexnet"), by held-out one-step error.

    python experiments/encoder_choice.py --root=/tmp/lawm_encoders

Trains the tiny config's LAM (sparse latents, bundled footage, its 300 steps unless
--steps) once per encoder and evaluates each on the held-out videos (data.holdout): the
one-step error of the prediction with the IDM's latent (`model`) against copying the
last state (`copy_last`), both in that encoder's representation space (layer-normalised
tokens, so on one scale); their ratio says how much of the change the latent action
explains (lower: more useful), and the transfer ratio how much of it survives when the
latents come from another held-out clip. Rows:

  vit_frame_causal   the tiny config as it is (random ViT, 32 px, patch 8: 4 x 4 tokens;
                     tubelet 2: 4 states of 2 frames)
  vit_per_frame      the same ViT, one state per frame (8 states): the CNN's time step
  alexnet_conv2_64   AlexNet to its second convolution at 64 px: 7 x 7 x 192 tokens
  alexnet_conv5_128  AlexNet to its last convolution at 128 px: 7 x 7 x 256 tokens

Writes ROOT/encoder_choice.{md,json}. Runs already trained under --root are reused.
"""
import dataclasses
import os

from absl import app, flags

import common
from lawm_jax.eval.run import evaluate
from lawm_jax.models.encoder import EncoderConfig
from lawm_jax.progress import quiet_library_logs
from lawm_jax.train.lam import train

ENCODERS = {
    "vit_frame_causal": (None, 32),
    "vit_per_frame": (dict(mode="per_frame"), 32),
    "alexnet_conv2_64": (dataclasses.asdict(EncoderConfig.preset("alexnet", layer=2, width=192)), 64),
    "alexnet_conv5_128": (dataclasses.asdict(EncoderConfig.preset("alexnet")), 128),
}
ROWS = flags.DEFINE_list("encoders", list(ENCODERS), f"which of {list(ENCODERS)}")


def encoder_config(name: str):
    """The tiny config's sparse LAM with this row's encoder and frame size."""
    c = common.load_config_module(common.CONFIG.value).get_config("sparse")
    change, size = ENCODERS[name]
    c.seed = common.SEED.value
    c.data.path = common.DATA.value or c.data.path
    c.data.holdout = common.HOLDOUT.value or c.data.holdout
    c.train.steps = common.STEPS.value or c.train.steps
    c.train.progress_bar = False
    c.train.log_every = max(c.train.steps // 20, 1)
    c.train.ckpt_every = c.train.steps
    if change and "kind" in change:
        c.model.encoder = change
    elif change:
        c.model.encoder.update(change)
    c.data.image_size = size
    return c


def main(argv):
    del argv
    quiet_library_logs()
    rows = []
    for name in ROWS.value:
        c, workdir = encoder_config(name), os.path.join(common.ROOT.value, name)
        _, _, history = train(c, workdir)  # resumes, and returns at once when already finished
        c.job = "evaluate"
        c.lpips_net = "none"  # representation space only: no decoder here
        c.eval.update(kinds="capacity,transfer", max_clips=common.MAX_CLIPS.value)
        result = evaluate(c, workdir)
        model, copy = result["capacity"]["model"]["repr_l1"], result["capacity"]["copy_last"]["repr_l1"]
        rows.append({"encoder": name, "image_size": c.data.image_size, "model": model, "copy_last": copy,
                     "ratio": model / copy, "transfer_ratio": result["transfer"]["ratio"]["repr_l1"],
                     "train_loss": history[-1]["loss"] if history else None})
    body = [f"`{common.command_line()}`", "",
            "Held-out one-step error in each encoder's representation space (L1 on layer-normalised "
            "tokens): prediction with the IDM's latent (model) against copying the last state; "
            "ratio = model / copy_last (lower: the latent explains more of the change); transfer ratio: "
            "error with latents from another held-out clip over the error with the clip's own.", "",
            common.table(["encoder", "px", "model", "copy_last", "ratio", "transfer ratio"],
                         [[r["encoder"], r["image_size"], r["model"], r["copy_last"], r["ratio"],
                           r["transfer_ratio"]] for r in rows])]
    path = common.write_report("encoder_choice", "Frozen encoder for the tiny demo", "\n".join(body), rows)
    print(open(path).read())


if __name__ == "__main__":
    app.run(main)
