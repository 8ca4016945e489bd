"""Test setup: 4 simulated CPU devices, so sharding tests run on any machine.

XLA reads the flag once, when JAX first initialises, so it is set before anything
imports jax.
"""
import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=4").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
