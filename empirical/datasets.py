"""Image data sets of the pruning experiments (M1-M4): embedded digits, and CIFAR-10 from a local folder.

    load_digits()            scikit-learn's bundled 8x8 digits: (1797, 1, 8, 8) float32 in [-1, 1]
                             (pixel values 0..16 mapped by v / 8 - 1), labels (1797,)
    load_cifar10(folder)     the standard ``cifar-10-batches-py`` folder (data_batch_1..5, test_batch):
                             (50000, 3, 32, 32) float32 in [-1, 1] (v / 127.5 - 1), labels; read with a
                             restricted unpickler that accepts only the numpy arrays, lists, dicts and
                             bytes those files hold (a pickle naming any other global is refused)
    subset(n_total, n, seed) indices of a random training subset (sorted, without replacement)

Nothing is downloaded: CIFAR-10 must be given as a local folder.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from memsep.theory import derive_seed

__all__ = ["load_digits", "load_cifar10", "subset", "CIFAR_FILES"]

CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """((1797, 1, 8, 8) float32 in [-1, 1], (1797,) int labels) from scikit-learn's bundled copy."""
    from sklearn.datasets import load_digits as _load

    d = _load()
    x = (d.images.astype(np.float32) / 8.0 - 1.0)[:, None, :, :]
    return x, d.target.astype(np.int64)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cifar folder: cannot read {path.name} ({exc.strerror})") from None
    try:
        obj = _RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"cifar folder: {path.name} is not a CIFAR-10 batch ({exc})") from None
    if not isinstance(obj, dict) or b"data" not in obj or b"labels" not in obj:
        raise ValueError(f"cifar folder: {path.name} lacks the b'data' / b'labels' entries of a CIFAR-10 batch")
    data, labels = obj[b"data"], np.asarray(obj[b"labels"])
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3072
        or labels.shape != (data.shape[0],)
    ):
        raise ValueError(
            f"cifar folder: {path.name} has data {getattr(data, 'shape', None)} "
            f"{getattr(data, 'dtype', None)}, labels {labels.shape}; expected uint8 (m, 3072) and (m,)"
        )
    return data, labels.astype(np.int64)


def load_cifar10(folder, *, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """((m, 3, 32, 32) float32 in [-1, 1], (m,) labels) from a local ``cifar-10-batches-py`` folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"cifar folder: {folder} is not a directory (give the extracted cifar-10-batches-py folder)")
    names = CIFAR_FILES if train else ("test_batch",)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise ValueError(f"cifar folder: {folder} lacks {', '.join(missing)} (expected the cifar-10-batches-py layout)")
    parts = [_read_batch(folder / n) for n in names]
    data = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    x = data.reshape(-1, 3, 32, 32).astype(np.float32) / 127.5 - 1.0
    return x, labels


def subset(n_total: int, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a random subset of size n out of n_total (seeded; saved with every run)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= n_total:
        raise ValueError(f"n: must be an int in [2, {n_total}], got {n!r}")
    return np.sort(np.random.default_rng(derive_seed(seed, "subset")).choice(n_total, size=n, replace=False))
