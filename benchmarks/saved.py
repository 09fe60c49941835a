"""Saved benchmark runs: each script can write its numbers to benchmarks/results/<name>.json (``--save``) and print
every number next to the last saved run's, so a change of speed shows as a ratio measured against a stated run.

    last = load("bench_memorization")                      # the last saved run, or None
    print(versus(last, ("d", 32), "matrix_s", 0.61))       # "  (last saved: 0.88, now/last 0.69)"
    save("bench_memorization", out)
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def versus(last: dict | None, key: tuple[str, object], field: str, now: float) -> str:
    """The value of ``field`` in the last saved run's row where row[key[0]] == key[1], and now / last."""
    for row in (last or {}).get("rows", []):
        if row.get(key[0]) == key[1] and isinstance(row.get(field), (int, float)) and row[field]:
            return f"  (last saved: {row[field]:.4g}, now/last {now / row[field]:.2f})"
    return ""


def save(name: str, out: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return path
