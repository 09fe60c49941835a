"""``memsep``: run the paper's claims, rebuild the report, list the claims.

    memsep run    [--claims S1,S2] [--profile quick|full|ci] [--seed N] [--out DIR] [--dry-run]
    memsep report [--out DIR]
    memsep list

Bad input (unknown claim, bad flag, bad value) prints one line to stderr and exits 2.
Exit status of ``run``: 0 when every claim is CONFIRMED, 1 otherwise (the report is written
either way).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .registry import PROFILES, get_claims

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's default prints usage too)
        self.exit(2, f"memsep: error: {message}\n")


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {v}")
    return v


def _claims(text: str) -> list[str]:
    ids = [c.strip().upper() for c in text.split(",") if c.strip()]
    if not ids:
        raise argparse.ArgumentTypeError("give comma-separated claim ids, e.g. S1,S2")
    return ids


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="memsep", description="Executable verification of Ye, Zhu, Tao, Chen (2025): "
                "provable separations between memorization and generalization in diffusion models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run claims, write results/, figures/ and REPORT.md",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    run.add_argument("--claims", type=_claims, default=None, help="comma-separated claim ids (default: all registered)")
    run.add_argument("--profile", choices=PROFILES, default="quick",
                     help="size preset: ci (test-suite size), quick (minutes on 2 cores), full (reference scale)")
    run.add_argument("--seed", type=_seed, default=0, help="run seed; each claim derives its own seed from it")
    run.add_argument("--out", type=Path, default=Path("."), help="folder for REPORT.md, results/ and figures/")
    run.add_argument("--dry-run", action="store_true", help="print the resolved configuration as JSON and exit")
    run.add_argument("--no-progress", action="store_true", help="hide progress bars")
    rep = sub.add_parser("report", help="rebuild REPORT.md from existing results/*.json",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    rep.add_argument("--out", type=Path, default=Path("."), help="folder holding results/ (REPORT.md goes there)")
    sub.add_parser("list", help="print the registered claims")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            for c in get_claims():
                print(f"{c.id:4s} {c.title}  [{c.paper_ref}]")
            return 0
        if args.command == "report":
            from .report import write_report

            print(f"wrote {write_report(args.out)}")
            return 0
        from .runner import resolved_config, run_claims

        if args.dry_run:
            print(json.dumps(resolved_config(args.claims, args.profile, args.seed, args.out), indent=1))
            return 0
        get_claims(args.claims)  # validate ids before any work
        records = run_claims(args.claims, args.profile, args.seed, args.out, progress=not args.no_progress)
        return 0 if all(r["result"]["verdict"] == "CONFIRMED" for r in records) else 1
    except ValueError as exc:
        print(f"memsep: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"memsep: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("memsep: interrupted; finished claims are saved in results/", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
