"""Files memsep writes and reads: atomic writes with ordinary modes, and loads that never run code.

Writing. ``atomic_open(path)`` writes to a temporary file in the same folder, flushes and fsyncs
it, then ``os.replace``s it onto ``path``: a reader (or a crash, or a full disk) never leaves a
half-written file, and a failed write leaves the previous file untouched. The temporary file is
created with ``os.open(..., 0o666)``, so the umask applies exactly as for ``open(path, "w")`` on a
new file (0644 under umask 022), also when it replaces an existing file (whose old mode, e.g. the
0600 that earlier versions of memsep gave their files, is not carried over).
Every file memsep writes goes through here: JSON results and configs, REPORT.md, figures,
checkpoints, model weights, samples, ``metrics.jsonl`` (appended by rewriting it atomically).

Reading. Files that come from a run directory or an output folder may have been made by
someone else, or left truncated by something other than memsep. Each loader accepts only data:

    read_json(path, what)       json.loads; invalid UTF-8 / JSON -> BadFileError
    load_torch(path, what)      torch.load(weights_only=True): tensors, numbers, strings, lists,
                                dicts (the optimiser, scheduler and generator states are such);
                                a pickle naming any other global is refused, nothing is executed
    load_npy(path, what)        numpy.load(allow_pickle=False): plain arrays only

and each failure is a :class:`BadFileError` (a ValueError) naming the file and what is wrong, so
the CLI prints one line and exits 2. The structure of what was read is checked by the caller
(``require_keys`` here; the DiT, checkpoint and results readers elsewhere).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = [
    "BadFileError",
    "atomic_open",
    "atomic_write_text",
    "atomic_write_json",
    "append_lines",
    "to_jsonable",
    "read_json",
    "load_torch",
    "save_torch",
    "load_npy",
    "save_npy",
    "require_keys",
    "check_writable_dir",
    "os_error_text",
    "reason",
]


class BadFileError(ValueError):
    """A file memsep reads is unreadable, corrupt, of the wrong kind, or unsafe to load."""

    def __init__(self, path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb", encoding: str | None = None):
    """``with atomic_open(p, "w") as fh: fh.write(...)``: the file appears at ``p`` whole, or not at all.

    mode: "wb" or "w" (text, UTF-8 unless ``encoding``). The parent folder is created if missing."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode: must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
            break
        except FileExistsError:
            continue
    try:
        kw = {} if mode == "wb" else {"encoding": encoding or "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def to_jsonable(obj):
    """numpy scalars/arrays, tuples, dataclass-dicts and non-finite floats -> strict JSON values."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else str(v)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def atomic_write_json(path, data) -> None:
    atomic_write_text(path, json.dumps(to_jsonable(data), indent=1, sort_keys=False, allow_nan=False) + "\n")


def append_lines(path, records: Iterable[dict]) -> None:
    """Append one JSON line per record to ``path`` (a .jsonl log) by rewriting the whole file atomically,
    so a crash leaves the old log or the new one, never a torn last line."""
    path = Path(path)
    lines = "".join(json.dumps(to_jsonable(r), allow_nan=False) + "\n" for r in records)
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise BadFileError(path, f"cannot append to it ({exc})") from None
    if old and not old.endswith("\n"):
        old += "\n"
    atomic_write_text(path, old + lines)


def reason(exc: BaseException, limit: int = 160) -> str:
    """A library exception's message as a short clause: its first line, its first sentence when that line is long."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    if len(line) > limit and ". " in line[:limit]:
        line = line[: line.index(". ") + 1]
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _read_bytes(path: Path, what: str, *, probe: bool = False) -> bytes:
    """The file's bytes (or, with ``probe``, only a check that it opens); clear errors for the usual faults."""
    try:
        if probe:
            with open(path, "rb"):
                return b""
        return path.read_bytes()
    except FileNotFoundError:
        raise BadFileError(path, f"missing (expected {what})") from None
    except IsADirectoryError:
        raise BadFileError(path, f"is a directory, not {what}") from None
    except OSError as exc:
        raise BadFileError(path, f"cannot be read ({exc.strerror or exc})") from None


def read_json(path, what: str = "a JSON file"):
    """The JSON value in ``path``; any failure is a BadFileError naming the file."""
    path = Path(path)
    raw = _read_bytes(path, what)
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadFileError(path, f"is not {what} (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise BadFileError(
            path, f"is not {what} (invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise BadFileError(path, f"is not {what} (JSON nested too deeply)") from None


def require_keys(path, value, keys: Iterable[str], what: str) -> dict:
    """``value`` if it is a dict holding every key in ``keys``; else a BadFileError naming the missing keys."""
    if not isinstance(value, dict):
        raise BadFileError(path, f"is not {what} (a JSON object expected, got {type(value).__name__})")
    missing = [k for k in keys if k not in value]
    if missing:
        raise BadFileError(path, f"is not {what} (missing {', '.join(missing)})")
    return value


def load_torch(path, what: str = "a torch file", map_location="cpu"):
    """torch.load with ``weights_only=True``: only tensors and plain containers are rebuilt, never code."""
    import pickle

    import torch

    path = Path(path)
    _read_bytes(path, what, probe=True)  # a clear message for missing / unreadable files first
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights_only" in str(exc) or "Unsupported global" in str(exc) or "GLOBAL" in str(exc):
            raise BadFileError(
                path,
                f"refused: it asks to load Python objects beyond tensors and plain "
                f"containers, which could run code (is not {what})",
            ) from None
        raise BadFileError(path, f"is not {what} ({reason(exc)})") from None
    except (
        RuntimeError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        IndexError,
        OSError,
        UnicodeDecodeError,
        OverflowError,
        MemoryError,
    ) as exc:
        raise BadFileError(path, f"is not {what} (torch.load: {reason(exc)})") from None


def save_torch(path, obj) -> None:
    """torch.save, atomically (never a half-written checkpoint)."""
    import torch

    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)


def load_npy(path, what: str = "a .npy array"):
    """numpy.load with ``allow_pickle=False``: a plain array or a BadFileError."""
    path = Path(path)
    _read_bytes(path, what, probe=True)
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError, TypeError, SyntaxError, MemoryError) as exc:
        first = reason(exc)
        if "allow_pickle" in first or "Object arrays" in first:
            raise BadFileError(
                path, f"refused: it holds pickled Python objects, which could run code (is not {what})"
            ) from None
        raise BadFileError(path, f"is not {what} ({first})") from None
    if not isinstance(arr, np.ndarray):
        raise BadFileError(path, f"is not {what} (an .npz archive, not one array)")
    return arr


def save_npy(path, arr) -> None:
    with atomic_open(path, "wb") as fh:
        np.save(fh, np.asarray(arr), allow_pickle=False)


def check_writable_dir(folder, name: str) -> Path:
    """Create ``folder`` if needed and prove a file can be written there (then removed); else ValueError
    naming the flag ``name``. Run before any work, so a bad output folder is found at once."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{name}: {folder} exists and is not a directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{name}: cannot create {folder} ({exc.strerror or exc})") from None
    probe = folder / f".memsep-write-test.{secrets.token_hex(6)}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"x")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise ValueError(f"{name}: cannot write in {folder} ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)
    return folder


def os_error_text(exc: OSError) -> str:
    """'No space left on device: /path' from an OSError (its text when it has no strerror)."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"{text}: {exc.filename}" if exc.filename else text
