"""Test setup: 4 simulated CPU devices, so sharding tests run on any machine, and a
persistent XLA compilation cache shared by every test and every subprocess they start.

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
every entry on each write. Processes do not write entries at the same time (a test waits
for the subprocess it starts; in a multi-process run only process 0 writes), and an entry
that cannot be read is compiled again, with a warning.
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
