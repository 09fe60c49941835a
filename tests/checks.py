"""Closeness checks shared by the unit tests: each names the relation and the worst case in its message."""

from __future__ import annotations

import numpy as np

__all__ = ["check_close", "check_rel", "check_scale_rel", "check_scalar"]


def check_close(actual, desired, rtol: float, what: str, *, floor: float | None = None) -> None:
    """Per query (leading axis): ||actual - desired|| <= rtol * max(||desired||, floor).

    floor defaults to the median ||desired|| over the queries, so a query where the reference
    happens to vanish (a stationary point of log p_t) is judged on the batch's scale.
    """
    actual, desired = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    assert actual.shape == desired.shape, f"{what}: shape {actual.shape} != reference {desired.shape}"
    ax = tuple(range(1, desired.ndim))
    num = np.sqrt(((actual - desired) ** 2).sum(axis=ax))
    den = np.sqrt((desired**2).sum(axis=ax))
    floor = float(np.median(den)) if floor is None else floor
    err = num / np.maximum(den, max(floor, np.finfo(float).tiny))
    k = int(np.argmax(err))
    assert err[k] <= rtol, f"{what}: relative error {err[k]:.3g} > {rtol:g} at query {k}"


def check_rel(actual, desired, rtol: float, what: str) -> None:
    """Elementwise |actual - desired| <= rtol |desired|; the message names the relation and the worst index."""
    actual, desired = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    err = np.abs(actual - desired) / np.abs(desired)
    worst = int(np.argmax(err))
    assert err.max() <= rtol, (
        f"{what}: max rel err {err.max():.3g} > {rtol:g} "
        f"at index {worst} (actual {actual.flat[worst]!r}, ref {desired.flat[worst]!r})"
    )


def check_scale_rel(actual, expected, rtol: float, case: str) -> None:
    """max |a - e| <= rtol * max |e| (relative to the target's scale), all values finite."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert np.all(np.isfinite(actual)), f"{case}: non-finite values"
    err = np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-300)
    assert err <= rtol, f"{case}: relative error {err:.3g} > {rtol:g}"


def check_scalar(case: str, relation: str, got: float, ref: float, rtol: float, atol: float = 0.0) -> None:
    """|got - ref| <= atol + rtol |ref| for one number of one case."""
    assert abs(got - ref) <= atol + rtol * abs(ref), (
        f"{case}: {relation}: got {got!r}, reference {ref!r} (rel. diff {abs(got - ref) / max(abs(ref), 1e-300):.3g})"
    )
