"""Where the time of a run goes: one row per claim from a run's results files.

    python benchmarks/timing_table.py                    # the committed main run (results/*.json)
    python benchmarks/timing_table.py --out runs/quick --save benchmarks/results/quick_timing.json

For each claim: its profile, the wall time of its check (``runtime_s``), how many sweep points it computed and
read back, the wall time of the points it computed (training, sampling and the per-model metrics of the trained
claims: ``provenance.sweeps.computed_seconds``, recorded from 2026-12-02 on) and the rest (Monte Carlo, fits of
the theory claims, decisions, figures). A run "from scratch" has read back nothing; the table says when a row
read points back, since its time then understates a fresh run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def rows(out: Path) -> list[dict]:
    from memsep.verify.registry import claim_order

    recs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "results").glob("*.json"))]
    table = []
    for r in sorted(recs, key=lambda r: claim_order(r["claim"]["id"])):
        sw = r.get("provenance", {}).get("sweeps", {})
        point_s = sw.get("computed_seconds")
        table.append(
            {
                "claim": r["claim"]["id"],
                "profile": r["profile"],
                "runtime_s": r["runtime_s"],
                "points_computed": sw.get("computed"),
                "points_read_back": sw.get("read_back"),
                "points_s": point_s,
                "rest_s": None if point_s is None else r["runtime_s"] - point_s,
                "git_commit": r["environment"]["git_commit"],
            }
        )
    return table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("."), help="the run's folder (default: .)")
    ap.add_argument("--save", type=Path, default=None, help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    table = rows(args.out)

    def fmt(v, spec=".0f"):
        return "-" if v is None else format(v, spec)

    print("| claim | profile | total s | points computed | read back | points s | rest s |")
    print("|---|---|---|---|---|---|---|")
    for t in table:
        print(f"| {t['claim']} | {t['profile']} | {fmt(t['runtime_s'])} | {fmt(t['points_computed'], 'd')} | "
              f"{fmt(t['points_read_back'], 'd')} | {fmt(t['points_s'])} | {fmt(t['rest_s'])} |")  # fmt: skip
    total = sum(t["runtime_s"] for t in table)
    print(f"\ntotal {total:.0f} s ({total / 60:.1f} min) over {len(table)} claims")
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps({"out": str(args.out), "rows": table}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
