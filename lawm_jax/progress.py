"""Console output of the command line, the tools and the trainer: one progress bar
(stderr, redrawn in place) and quieter logs."""
from __future__ import annotations

import logging
import sys

from absl import logging as absl_logging

_bar_open = False  # a bar is drawn and its line not ended


def progress_bar(n: int, total: int, label: str = "", width: int = 30) -> None:
    """Draws `n` of `total` done; ends the line at the last one."""
    global _bar_open
    done = int(width * n / max(total, 1))
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {n}/{total} {label[-60:]:<60}")
    _bar_open = n < total
    if not _bar_open:
        sys.stderr.write("\n")
    sys.stderr.flush()


class _QuietLibraries(logging.Filter):
    """Drops the libraries' INFO lines: Orbax's (a dozen per checkpoint save) and JAX's
    probing of absent backends ("Unable to initialize backend 'tpu'"); warnings and errors
    stay. `--verbosity=1` shows them again."""

    def filter(self, record):
        return (record.levelno >= logging.WARNING or absl_logging.get_verbosity() >= 1
                or not ("/orbax/" in record.pathname.replace("\\", "/") or record.name == "jax._src.xla_bridge"))


def quiet_library_logs() -> None:
    """Hides the libraries' INFO lines (idempotent): on absl's handler (the command line)
    and on absl's logger (notebooks, where Python's own handlers print them)."""
    for target in (absl_logging.get_absl_handler(), absl_logging.get_absl_logger()):
        if not any(isinstance(f, _QuietLibraries) for f in target.filters):
            target.addFilter(_QuietLibraries())


def end_bar_line() -> None:
    """Ends the line of a bar still being drawn (before printing an error)."""
    global _bar_open
    if _bar_open:
        sys.stderr.write("\n")
        _bar_open = False
