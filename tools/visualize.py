"""Pictures of runs: rollouts, training curves, planned trajectories.

    python tools/visualize.py --workdir=/tmp/lawm_tiny [--decoder=/tmp/lawm_decoder] [--out=DIR]
    python tools/visualize.py --plan=/runs/arm_plan [--episodes=16]

--workdir (a training run) writes to WORKDIR/pictures (or --out):
  training_curves.png      the run's metrics (decoder_curves.png: the decoder's)
  rollout_<i>.png          rows: A real | A IDM rollout | B real | B driven by A's latents |
                           A driven by the cycled latents (lawm_jax/eval/pictures.py), for
                           held-out clips of distinct videos; decoded frames with --decoder,
                           else the states themselves as colours
  rollout_<i>.gif / .mp4   the same rows played over time (--formats)
--plan (a plan job's workdir) writes PLAN/plan/planned_paths.png (or to --out): the true
and every method's planned path of --episodes episodes.
"""
import os

from absl import app, flags

from lawm_jax.cli import run_main
from lawm_jax.eval.pictures import draw_run
from lawm_jax.planning.run import PATHS_PICTURE, draw_plan
from lawm_jax.progress import quiet_library_logs

FORMATS = ("png", "gif", "mp4")


def main(argv):
    del argv
    quiet_library_logs()
    f = flags.FLAGS
    if not (f.workdir or f.plan):
        raise app.UsageError("name a training run (--workdir) or a plan job's workdir (--plan)")
    if bad := set(f.formats) - set(FORMATS):
        raise app.UsageError(f"--formats={','.join(f.formats)}: {sorted(bad)} unknown; choose from {FORMATS}")
    for name in ("examples", "episodes"):
        if f[name].value < 1:
            raise app.UsageError(f"--{name}={f[name].value}: draw at least 1")
    written = []
    if f.workdir:
        written += draw_run(f.workdir, f.out, f.decoder, f.examples, f.formats, f.data, f.context)
    if f.plan:
        written.append(draw_plan(f.plan, os.path.join(f.out, PATHS_PICTURE) if f.out else "", f.episodes))
    print("\n".join(written))


if __name__ == "__main__":
    flags.DEFINE_string("workdir", "", "a training run's workdir")
    flags.DEFINE_string("decoder", "", "a decoder job's workdir (trained on the run's encoder): decoded frames")
    flags.DEFINE_string("plan", "", "a plan job's workdir")
    flags.DEFINE_string("out", "", "output folder (default WORKDIR/pictures, PLAN/plan)")
    flags.DEFINE_integer("examples", 2, "rollout pictures, each from another held-out video")
    flags.DEFINE_integer("context", 1, "real steps before the rollout")
    flags.DEFINE_list("formats", ["png", "gif"], f"of the rollout pictures: {', '.join(FORMATS)}")
    flags.DEFINE_string("data", "", "held-out clips to draw (default: the videos the run held out)")
    flags.DEFINE_integer("episodes", 8, "planning episodes to draw")
    run_main(main)  # errors you can fix (a folder that is not a run, a bad value): one line
