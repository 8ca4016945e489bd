"""The command line's help and its errors, as a user sees them: `--help` lists the jobs
and the configs; an error the user can fix is one line on stderr naming what is wrong,
with no traceback (unless --debug); a bug keeps its traceback. The entry points and their
exit statuses run as real subprocesses (`--help` of lawm_jax.main and of a tool, the
tools' errors); lawm_jax.main's errors run in this process, through the same run_main."""
import errno
import glob
import os
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import main_in_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "configs", "*.py"))
                 if not p.endswith("__init__.py"))

# Runs argv (["-m", module, ...] or [script, ...]) with `modules` unimportable, as on a
# machine without those optional packages.
WITHOUT = textwrap.dedent("""
    import runpy, sys
    for name in sys.argv[1].split(","):
        sys.modules[name] = None
    sys.argv = sys.argv[2:]
    if sys.argv[0] == "-m":
        sys.argv = sys.argv[1:]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(sys.argv[0], run_name="__main__")
""")


def run(*args, without=(), timeout=300):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    cmd = [sys.executable, "-c", WITHOUT, ",".join(without), *args] if without else [sys.executable, *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def main(*args, **kwargs):
    return run("-m", "lawm_jax.main", *args, **kwargs)


def assert_one_line_error(out, *names):
    assert out.returncode != 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    for name in names:
        assert name in out.stderr, out.stderr[-2000:]


def main_error(*args, names=()):
    """lawm_jax.main in this process: exits with status 1 after one line on stderr that names `names`."""
    code, stderr = main_in_process(*args)
    assert code == 1, stderr[-2000:]
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr[-3000:]
    for name in names:
        assert name in stderr, stderr[-2000:]
    return stderr


def test_help_lists_every_job_and_every_config():
    from lawm_jax.config import JOBS
    out = main("--help")
    assert out.returncode == 0, out.stderr[-2000:]
    for job in JOBS:
        assert f"\n  {job} " in out.stdout, job
    assert CONFIGS and all(f"configs/{name}" in out.stdout for name in CONFIGS)
    assert "noisy (the default)" in out.stdout  # configs/arm.py's :ARG values, read from the file
    assert "controller_mlp, plan" in out.stdout
    assert "--debug" in out.stdout and "Traceback" not in out.stderr
    tool = run("tools/visualize.py", "--help")  # asking a tool for its help is not an error either
    assert tool.returncode == 0 and "--workdir" in tool.stdout, tool.stderr[-2000:]


def test_describe_configs_reads_the_folder(tmp_path):
    from lawm_jax.cli import describe_configs
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "mine.py").write_text('"""My config.\n\nMore."""\nfrom configs import tiny\n\n\n'
                                    'def get_config(arg=None):\n    return tiny.get_config(arg)\n')
    (folder / "broken.py").write_text('"""Does not import."""\nimport no_such_module_here\n')
    (folder / "tiny.py").write_text(open(os.path.join(ROOT, "configs", "tiny.py")).read())
    ours = {m: sys.modules.pop(m) for m in list(sys.modules) if m == "configs" or m.startswith("configs.")}
    try:  # this folder's configs package, not the repository's
        text = describe_configs(str(folder))
    finally:
        for name in [m for m in sys.modules if m == "configs" or m.startswith("configs.")]:
            sys.modules.pop(name)
        sys.modules.update(ours)
    text = " ".join(text.split())  # as one line: long paths wrap anywhere
    assert "mine.py" in text and "My config." in text and "More." not in text
    assert "broken.py" in text and "cannot be imported" in text
    assert "sparse (the default), noisy" in text and "__init__" not in text


def test_unknown_override_names_the_nearest_field():
    import ml_collections

    from lawm_jax.cli import unknown_override
    c = ml_collections.ConfigDict({"train": {"steps": 3, "adam_lr": 1.0}, "data": {"path": ""}})
    assert unknown_override(c, ["prog", "--config.train.steps=4", "--config.data.path=x"]) is None
    msg = unknown_override(c, ["prog", "--config.train.stepz=4"])
    assert "--config.train.stepz=4" in msg and "config.train.steps" in msg
    assert "config.train" in unknown_override(c, ["prog", "--config.trian.steps=4"])
    assert "is a value" in unknown_override(c, ["prog", "--config.train.steps.x=4"])


def test_only_user_errors_become_one_line():
    from absl import app

    from lawm_jax.cli import user_error_message as message
    from lawm_jax.errors import ConfigError, DataError
    assert message(ConfigError("config.x=1: must be 2")) == "config.x=1: must be 2"
    assert message(DataError("no videos")) == "no videos"
    assert "--help" in message(app.UsageError("--path is required"))
    assert 'pip install -e ".[sim]"' in message(ModuleNotFoundError("No module named 'mujoco'", name="mujoco"))
    missing = message(FileNotFoundError(errno.ENOENT, "No such file or directory", "/x/y"))
    assert "/x/y" in missing and "check the path" in missing
    assert "choose another" in message(FileExistsError(errno.EEXIST, "File exists", "/x/y"))
    # bugs keep their traceback
    for bug in (KeyError("k"), TypeError("t"), ValueError("v"), RuntimeError("r"), AttributeError("a"),
                ModuleNotFoundError("No module named 'numpy'", name="numpy"), ImportError("cannot import x")):
        assert message(bug) is None, bug


def test_a_bug_keeps_its_traceback(monkeypatch):
    from lawm_jax.cli import run_main

    def main(argv):
        raise KeyError("a bug")
    monkeypatch.setattr(sys, "argv", ["prog"])
    with pytest.raises(KeyError, match="a bug"):  # raised through absl's app.run: Python prints its traceback
        run_main(main)


def test_clip_index_logs_its_progress(tmp_path, monkeypatch):
    from absl import logging

    from lawm_jax.data import clips
    seen = []
    monkeypatch.setattr(clips, "PROGRESS_EVERY_S", -1.0)  # every file
    monkeypatch.setattr(logging, "info", lambda msg, *args: seen.append(msg % args))
    index = clips.build_index(clips.BUNDLED_FOOTAGE, clips.ClipSpec(frames=8, fps=4.0), cache=False)
    progress = [s for s in seen if s.startswith("indexing the videos")]
    assert len(progress) == len(index.videos) + len(index.bad) >= 2
    assert f"of {len(progress)} probed" in progress[-1]


MAIN_ERRORS = {  # name: (flags after --config, what stderr must name)
    "unwritable workdir": (["--config=configs/tiny.py", "--workdir=/proc/lawm_x"], ["--workdir=/proc/lawm_x"]),
    "missing config file": (["--config=configs/nope.py", "--workdir={tmp}"], ["configs/nope.py", "no such file"]),
    "misspelt field": (["--config=configs/tiny.py", "--workdir={tmp}", "--config.train.stepz=3"],
                       ["--config.train.stepz=3", "config.train.steps"]),
    "misspelt section": (["--config=configs/tiny.py", "--workdir={tmp}", "--config.trian.steps=3"],
                         ["config has no field 'trian'", "config.train"]),
    "negative steps": (["--config=configs/tiny.py", "--workdir={tmp}", "--config.train.steps=-1"],
                       ["config.train.steps=-1", "must be >= 1"]),
    "steps that are no number": (["--config=configs/tiny.py", "--workdir={tmp}", "--config.train.steps=abc"],
                                 ["--config.train.steps=abc", "takes a value of type int (this config has 300)"]),
    "a flag that is no boolean": (["--config=configs/tiny.py", "--workdir={tmp}", "--config.data.flip=maybe"],
                                  ["--config.data.flip=maybe", "takes a value of type bool"]),
    "unknown bottleneck": (["--config=configs/tiny.py", "--workdir={tmp}", "--config.model.bottleneck.kind=foo"],
                           ["config.model.bottleneck.kind='foo'", "sparse"]),
    "unknown config argument": (["--config=configs/arm.py:foo", "--workdir={tmp}"], ["configs/arm.py:foo", "noisy"]),
    "missing data path": (["--config=configs/tiny.py", "--workdir={tmp}", "--config.data.path={tmp}/nowhere"],
                          ["config.data.path", "nowhere", "does not exist"]),
    "missing encoder checkpoint": (["--config=configs/tiny.py", "--workdir={tmp}",
                                    "--config.model.encoder_checkpoint={tmp}/no_encoder"],
                                   ["config.model.encoder_checkpoint", "no_encoder", "convert_vjepa2"]),
    "evaluate a folder that is not a run": (["--config=configs/tiny.py", "--workdir={tmp}",
                                             "--config.job=evaluate"], ["not a lawm_jax training run"]),
    "controller of a missing run": (["--config=configs/arm.py:controller", "--workdir={tmp}/c",
                                     "--config.data.path={tmp}", "--config.controller.world_model={tmp}/nolam"],
                                    ["config.controller.world_model", "nolam"]),
}


@pytest.mark.parametrize("case", sorted(MAIN_ERRORS))
def test_user_errors_of_the_command_line_are_one_line(case, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    args, names = MAIN_ERRORS[case]
    stderr = main_error(*(a.format(tmp=tmp_path) for a in args),
                        names=["lawm_jax.main: ", *(n.format(tmp=tmp_path) for n in names)])
    assert len(stderr.strip().splitlines()[-1]) > 20  # the message itself, not only a name


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    from lawm_jax.errors import ConfigError
    monkeypatch.chdir(ROOT)
    with pytest.raises(ConfigError, match="config.train.steps=-1"):  # not caught: Python prints the traceback
        main_in_process("--config=configs/tiny.py", f"--workdir={tmp_path}", "--config.train.steps=-1", "--debug")


def test_make_trajectories_without_mujoco(tmp_path):
    out = run("tools/make_trajectories.py", "--env=arm", f"--out={tmp_path}/arm", "--episodes=1", "--length=3",
              without=("mujoco",))
    assert_one_line_error(out, "make_trajectories: ", "mujoco", 'pip install -e ".[sim]"')


def test_convert_vjepa2_without_torch(tmp_path):
    (tmp_path / "vitl.pt").write_bytes(b"not really")
    out = run("tools/convert_vjepa2.py", f"--input={tmp_path}/vitl.pt", f"--output={tmp_path}/enc",
              without=("torch",))
    assert_one_line_error(out, "convert_vjepa2: ", "torch", 'pip install -e ".[convert]"')


def test_tools_name_a_missing_or_empty_video_folder(tmp_path):
    out = run("tools/prepare_videos.py", f"--path={tmp_path}")
    assert_one_line_error(out, "prepare_videos: ", str(tmp_path), "holds no video files")
    out = run("tools/make_shards.py", f"--path={tmp_path}/nowhere", f"--out={tmp_path}/shards")
    assert_one_line_error(out, "make_shards: ", "nowhere", "does not exist")


def test_visualize_names_what_is_wrong(tmp_path):
    """A folder that is not a run, a run whose encoder was moved away, a bad count."""
    out = run("tools/visualize.py", f"--workdir={tmp_path}")
    assert_one_line_error(out, "visualize: ", str(tmp_path), "not a lawm_jax training run")
    (tmp_path / "world_model.json").write_text('{"encoder_checkpoint": "/nowhere/encoder", "model": {}}')
    out = run("tools/visualize.py", f"--workdir={tmp_path}")
    assert_one_line_error(out, "visualize: ", "/nowhere/encoder", "was the run moved")
    out = run("tools/visualize.py", f"--plan={tmp_path}", "--episodes=0")
    assert_one_line_error(out, "visualize: ", "--episodes=0")


def test_data_errors_found_when_the_job_starts(tmp_path, monkeypatch):
    """Errors the data pipeline finds (after the model is built): an empty folder of
    videos, a TFDS source without tensorflow_datasets."""
    monkeypatch.chdir(ROOT)
    (tmp_path / "videos").mkdir()
    common = ["--config=configs/tiny.py", f"--workdir={tmp_path}/run"]
    main_error(*common, f"--config.data.path={tmp_path}/videos",
               names=["lawm_jax.main: ", f"{tmp_path}/videos", "holds no video files"])
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # as on a machine without it
    main_error(*common, "--config.data.source=tfds", f"--config.data.path={tmp_path}/videos",
               names=["lawm_jax.main: ", "tensorflow_datasets", 'pip install -e ".[tfds]"'])


def test_make_shards_shows_indexing_and_writing_progress(tmp_path):
    import shutil

    from lawm_jax.data.clips import BUNDLED_FOOTAGE
    videos = tmp_path / "videos"
    videos.mkdir()
    for path in sorted(glob.glob(os.path.join(BUNDLED_FOOTAGE, "*.mp4")))[:2]:
        shutil.copy(path, videos)
    out = run("tools/make_shards.py", f"--path={videos}", f"--out={tmp_path}/shards", "--frames=4", "--fps=1",
              "--size=16")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "indexing" in out.stderr and "clips written" in out.stderr
