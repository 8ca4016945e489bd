"""Test setup: 4 simulated CPU devices, so sharding tests run on any machine, and a
persistent XLA compilation cache shared by every test and every subprocess they start.

XLA and JAX read these once, when JAX first initialises, so they are set before anything
imports jax. Subprocesses (the command line, the tools, notebooks, two-process training)
inherit them from os.environ.

Why the cache: most of the suite's time is XLA compiling the same tiny programs again
(each test builds its own jitted closures; each command-line test is a fresh process).
A cache entry is keyed by the whole HLO module, the compile options, the devices and the
jax/jaxlib versions, so a hit is the executable a compile would give: results do not
change, only the time. `JAX_COMPILATION_CACHE_DIR` chooses the folder (default: one under
the temporary directory, kept between runs, at most 2 GB, least recently used entries
evicted); `JAX_ENABLE_COMPILATION_CACHE=false` turns it off.
"""
import os
import tempfile

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=4").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "lawm_jax_test_xla_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # tiny programs too
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
# A size limit turns on JAX's LRU eviction and, with it, the file lock that keeps two
# processes (tests/train/test_multiprocess.py) from reading an entry while it is written.
os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(2 * 1024**3))
