"""Test setup: 4 simulated CPU devices, so sharding tests run on any machine, and a
persistent XLA compilation cache shared by every test and every subprocess they start.

XLA and JAX read these once, when JAX first initialises, so they are set before anything
imports jax. Subprocesses (the command line, the tools, notebooks, two-process training)
inherit them from os.environ.

Why LLVM's -O0 (`--xla_backend_optimization_level=0`, unless XLA_FLAGS already sets a
level): the suite's programs are tiny, so XLA:CPU spends far more time optimising their
machine code than running it; at -O0 a cold run of tests/models/test_bottlenecks.py and
tests/train/test_training.py took 159 s instead of 210 s (tests/models/test_idm_predictor.py
37 s instead of 54 s). XLA's own (HLO) optimisations, and so the numerics, are unchanged;
the benchmarks and every run outside the tests keep the default level.

Why the cache: most of the suite's time is XLA compiling the same tiny programs again
(each test builds its own jitted closures; each command-line test is a fresh process).
A cache entry is keyed by the whole HLO module, the compile options, the devices and the
jax/jaxlib versions, so a hit is the executable a compile would give: results do not
change, only the time (a re-run of tests/test_world_model.py: 93 s instead of 512 s).
`JAX_COMPILATION_CACHE_DIR` chooses the folder (default: one under the temporary
directory, kept between runs; about 40 MB per run of changed code; delete it at will);
`JAX_ENABLE_COMPILATION_CACHE=false` turns it off. No size limit: JAX's limit rescans
every entry on each write. Processes do not write entries at the same time (a test waits
for the subprocess it starts; in a multi-process run only process 0 writes), and an entry
that cannot be read is compiled again, with a warning.
"""
import os
import tempfile

_flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
if "xla_backend_optimization_level" not in _flags:
    _flags += " --xla_backend_optimization_level=0"  # LLVM -O0: tiny programs compile faster
os.environ["XLA_FLAGS"] = _flags.strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "lawm_jax_test_xla_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # tiny programs too
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
