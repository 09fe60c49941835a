"""Where the time of a run goes: one row per claim from a run's results files.

    python benchmarks/timing_table.py                    # the committed main run (results/*.json)
    python benchmarks/timing_table.py --out runs/quick --save benchmarks/results/quick_timing.json

For each claim: its profile, the wall time of its check (``runtime_s``), how many sweep points it computed and
read back, the wall time of the points it computed (training, sampling and the per-model metrics of the trained
claims: ``provenance.sweeps.computed_seconds``, recorded from 2026-12-02 on) and the rest (Monte Carlo, fits of
the theory claims, decisions, figures). A run "from scratch" has read back nothing; the table says when a row
read points back, since its time then understates a fresh run.

    python benchmarks/timing_table.py --out runs/quick2 --against benchmarks/results/quick_timing.json

``--against`` adds the claims' times in a saved table and the ratio now / then, per claim and in total, where a
claim ran the same profile in both and neither run read points back (a "-" otherwise). Times
from different hosts are not comparable as they stand: the saved table records how the run ran (commit, CPU
model, cores, torch threads, torchrun workers) and, where the run trained the pruning claims' original DiT, its
wall seconds per training step, a yardstick of the host's speed (about 0.083 s on the 2-core machines this
project was calibrated on: 12 steps/s for the tiny DiT at batch 128).
"""

from __future__ import annotations

import argparse
import json
import sys
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


def run_info(out: Path) -> dict:
    """How the run in ``out`` ran, from its results files: command, commit, CPU, threads, workers, and the seconds per
    training step of the pruning claims' first original DiT (None when the run did not train one)."""
    recs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "results").glob("*.json"))]
    if not recs:
        return {}
    env = recs[0].get("environment", {})
    step_s = None
    for r in recs:
        for t in r.get("result", {}).get("tables", []) if isinstance(r.get("result"), dict) else []:
            cols = t.get("columns", [])
            if {"steps", "seconds"} <= set(cols) and t.get("rows") and step_s is None:
                row = t["rows"][0]
                step_s = row[cols.index("seconds")] / row[cols.index("steps")]
    return {
        "command": recs[0].get("provenance", {}).get("command"),
        "git_commit": env.get("git_commit"),
        "cpu_model": env.get("cpu_model"),
        "cpu_count": env.get("cpu_count"),
        "torch_threads": env.get("device", {}).get("torch_threads"),
        "workers": recs[0].get("provenance", {}).get("workers"),
        "dit_train_seconds_per_step": step_s,
    }


def _comparable(now: dict, then: dict) -> bool:
    """Rows of the same claim that can be compared: same profile, both computed from scratch (nothing read back)."""
    return (
        bool(then.get("runtime_s"))
        and then.get("profile") == now["profile"]
        and not then.get("points_read_back")
        and not now["points_read_back"]
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("."), help="the run's folder (default: .)")
    ap.add_argument("--save", type=Path, default=None, help="also write the rows to this JSON file")
    ap.add_argument("--against", type=Path, default=None, help="a saved table to compare with (ratio now / then)")
    args = ap.parse_args(argv)
    table = rows(args.out)
    info = run_info(args.out)
    then = {}
    if args.against is not None:
        try:
            saved = json.loads(args.against.read_text(encoding="utf-8"))
            then = {r["claim"]: r for r in saved["rows"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"timing_table: error: against: cannot read a saved table from {args.against} ({exc})",
                  file=sys.stderr)  # fmt: skip
            return 2

    def fmt(v, spec=".0f"):
        return "-" if v is None else format(v, spec)

    extra = " then s | now / then |" if then else ""
    print("| claim | profile | total s | points computed | read back | points s | rest s |" + extra)
    print("|---|---|---|---|---|---|---|" + ("---|---|" if then else ""))
    for t in table:
        line = (f"| {t['claim']} | {t['profile']} | {fmt(t['runtime_s'])} | {fmt(t['points_computed'], 'd')} | "
                f"{fmt(t['points_read_back'], 'd')} | {fmt(t['points_s'])} | {fmt(t['rest_s'])} |")  # fmt: skip
        if then:
            old = then.get(t["claim"], {})
            ratio = t["runtime_s"] / old["runtime_s"] if _comparable(t, old) else None
            line += f" {fmt(old.get('runtime_s'))} | {fmt(ratio, '.2f')} |"
        print(line)
    total = sum(t["runtime_s"] for t in table)
    print(f"\ntotal {total:.0f} s ({total / 60:.1f} min) over {len(table)} claims")
    if then:
        both = [t for t in table if _comparable(t, then.get(t["claim"], {}))]
        now_s, then_s = sum(t["runtime_s"] for t in both), sum(then[t["claim"]]["runtime_s"] for t in both)
        if both:
            print(f"the {len(both)} claims comparable (same profile, neither read points back): {now_s / 60:.1f} "
                  f"min now, {then_s / 60:.1f} min then, now / then {now_s / then_s:.2f}")  # fmt: skip
    print("run: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"out": str(args.out), "run": info, "total_s": total, "rows": table}, indent=1)
        args.save.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
