"""Test setup: 4 simulated CPU devices, so sharding tests run on any machine; a
persistent XLA compilation cache shared by every test, every subprocess they start and
both workers of `pytest -n 2`; and the trained runs that many tests only need to have
(session fixtures: sparse_run, arm_runs; their tests are slow and share one worker:
pytest_collection_modifyitems below).

XLA and JAX read these once, when JAX first initialises, so they are set before anything
imports jax. Subprocesses (the command line, the tools, notebooks, two-process training)
inherit them from os.environ.

Why LLVM's -O1 (`--xla_backend_optimization_level=1`, unless XLA_FLAGS already sets a
level; XLA's default is 2): the suite's programs are small, so XLA:CPU spends much of a
test's time optimising machine code. Measured with the cache off, one file at a time
(docs/PERFORMANCE.md, "The test suite's time"): tests/models/test_bottlenecks.py with
tests/train/test_training.py's default tests 210 s at level 2, 159 s at 0, 116 s at 1; a
compute-heavy test (decoder + LPIPS training and evaluation) 164 s at 2, 400 s at 0, 164 s
at 1. XLA's own (HLO) optimisations are unchanged, and so are the numerics (IEEE
semantics at every level); runs outside the tests keep the default.

Why the cache: most of the suite's time is XLA compiling the same tiny programs again
(each test builds its own jitted closures; each command-line test is a fresh process).
A cache entry is keyed by the whole HLO module, the compile options, the devices and the
jax/jaxlib versions, so a hit is the executable a compile would give: results do not
change, only the time (a re-run of tests/test_world_model.py: 93 s instead of 512 s).
`JAX_COMPILATION_CACHE_DIR` chooses the folder (default: one under the temporary
directory, kept between runs; about 40 MB per run of changed code; delete it at will);
`JAX_ENABLE_COMPILATION_CACHE=false` turns it off. No size limit: JAX's limit rescans
every entry on each write. An entry that cannot be read is compiled again, with a
warning. Within a worker, processes do not write entries at the same time (a test waits
for the subprocess it starts; in a multi-process run only process 0 writes); the two
workers of `-n 2` may (JAX writes a file in place, without a lock unless the cache has a
size limit): a reader that catches a half-written entry fails to decompress it and
compiles again.
"""
import os
import tempfile

_flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
if "xla_backend_optimization_level" not in _flags:
    _flags += " --xla_backend_optimization_level=1"  # LLVM -O1: faster compiles, same run times
os.environ["XLA_FLAGS"] = _flags.strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "lawm_jax_test_xla_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # tiny programs too
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import collections  # noqa: E402

import pytest  # noqa: E402


def pytest_runtest_setup(item):
    """A test marked serial fails at once on a worker of `pytest -n N`."""
    if item.get_closest_marker("serial") and os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail(f"{item.nodeid} is marked serial: run it without -n "
                    '(python -m pytest -m "slow and serial")', pytrace=False)


SHARED_RUNS = ("arm_runs", "sparse_run")


@pytest.hookimpl(tryfirst=True)  # before xdist's hook reads the groups and -m reads the marks
def pytest_collection_modifyitems(config, items):
    """A test of a shared trained run is slow (the slow run builds the run anyway, so CI
    builds it once, not once per run of pytest) and goes to the worker of that run's
    other tests (pytest.ini runs `--dist loadgroup`): built once, not once per worker
    (each build is a minute or more of compiling)."""
    for item in items:
        for name in SHARED_RUNS:
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.slow)
                item.add_marker(pytest.mark.xdist_group(name))
                break


# A trained run shared by the tests that only need to have one: its folder and what train returned.
TrainedRun = collections.namedtuple("TrainedRun", "workdir params history")


@pytest.fixture(scope="session")
def sparse_run(tmp_path_factory) -> TrainedRun:
    """tests.helpers.small_config("sparse", steps=3) trained once per session (per worker
    under pytest-xdist). Read-only: a test that writes into the folder (the evaluate job
    writes WORKDIR/eval) works on tests.helpers.own_copy of it."""
    from lawm_jax.train.lam import train
    from tests.helpers import small_config
    workdir = str(tmp_path_factory.mktemp("sparse_run"))
    _, params, history = train(small_config("sparse", steps=3), workdir)
    return TrainedRun(workdir, params, history)


@pytest.fixture(scope="session")
def arm_runs(tmp_path_factory):
    """Simulated arm trajectories (3 training, 2 test episodes of 6 steps, 32 px) and the
    runs a plan needs, 2 steps each on them with the frame-causal encoder: a noisy LAM,
    the action-conditioned baseline and the LAM's controller. Read-only: (data, test,
    {"lam", "ac", "ctrl": workdir})."""
    from configs import arm
    from lawm_jax.data.trajectories import generate_trajectories
    from lawm_jax.train.controller import train_controller
    from lawm_jax.train.lam import train
    from tests.helpers import frame_causal, small
    root = tmp_path_factory.mktemp("arm")
    data, test = str(root / "data"), str(root / "test")
    generate_trajectories("arm", data, episodes=3, length=6, size=32)
    generate_trajectories("arm", test, episodes=2, length=6, size=32, seed=1)
    runs = {name: str(root / name) for name in ("lam", "ac", "ctrl")}
    train(frame_causal(small(arm, "noisy", data)), runs["lam"])
    train(frame_causal(small(arm, "actions", data)), runs["ac"])
    c = frame_causal(small(arm, "controller", data))
    c.controller.world_model = runs["lam"]
    train_controller(c, runs["ctrl"])
    return data, test, runs
