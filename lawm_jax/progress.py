"""One progress bar for the command-line tools and the trainer (stderr, redrawn in place)."""
from __future__ import annotations

import sys


def progress_bar(n: int, total: int, label: str = "", width: int = 30) -> None:
    """Draws `n` of `total` done; ends the line at the last one."""
    done = int(width * n / max(total, 1))
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {n}/{total} {label[-60:]:<60}")
    if n >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()
