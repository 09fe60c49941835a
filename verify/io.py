"""Atomic file writes (``empirical.fileio``): a reader never sees a half-written results file, figure or report."""

from __future__ import annotations

import contextlib
from pathlib import Path

from memsep.empirical.fileio import atomic_open, atomic_write_json, atomic_write_text, to_jsonable

__all__ = ["atomic_write_text", "atomic_write_json", "save_figure", "figure", "to_jsonable"]


def save_figure(fig, path: Path) -> None:
    """Save a matplotlib figure atomically as PNG (no timestamp metadata, so reruns are stable)."""
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})


@contextlib.contextmanager
def figure(path: Path, ncols: int, size: tuple[float, float]):
    """``with figure(path, 3, (15, 4.3)) as ax:`` draw on the axes; saved atomically and closed on exit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, ncols, figsize=size)
    try:
        yield ax
        fig.tight_layout()
        save_figure(fig, path)
    finally:
        plt.close(fig)
