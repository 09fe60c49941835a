"""``memsep``: run the paper's claims, rebuild the report, list the claims.

    memsep --version
    memsep run    [--claims S1,S2] [--profile ci|quick|standard|full] [--seed N] [--out DIR] [--dry-run]
    memsep report [--out DIR]
    memsep list
    memsep fuzz   CLAIM [--examples N] [--seed S] [--time-budget SEC] [--out DIR] [--no-progress]
    memsep dit    train | prune | sample | evaluate  --run DIR ...   (verify.dit_cli)

Bad input (unknown claim, bad flag, bad value, a file memsep reads that is corrupt or unsafe)
and a failed write (full disk, an output folder that is not writable) print one line to stderr
and exit 2; such a failure never replaces a previous result. Exit status of ``run``: 0 when
every claim is CONFIRMED, 1 when one is NOT CONFIRMED or ERROR (the report is written either
way), 2 as above. ``run`` and ``replicate`` also write ``<out>/summary.json``: every claim's verdict and
every rule's outcome by key, the tally and the exit status, so that a script can tell an expected
outcome (a documented disagreement) from a regression without parsing REPORT.md. Exit status of
``fuzz``: 0 when no counterexample was found, 1 when one was (results/fuzz/<claim>.json is written
either way).

Claims run in paper order (S1-S5, A1-A6, M1-M4) whatever the order given to ``--claims``: claims that
share an experiment (A3 and A4; M1-M4) rely on it. ``--help``, ``--version`` and ``list`` do not import
the numerical code (``list`` reads the claims' ``register(...)`` calls from their source files;
a test keeps that equal to the registry), so they answer in well under a second.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

__all__ = ["main", "PROFILES", "sharing_claims", "static_claims"]

# verify.registry.PROFILES (a test keeps them equal): importing the registry imports theory (numpy, scipy), which
# --help and --version should not pay for.
PROFILES = ("ci", "quick", "standard", "full")
_CLAIMS_DIR = Path(__file__).resolve().parent / "claims"


def static_claims() -> list[tuple[str, str, str]]:
    """(id, title, paper_ref) of every claim, in paper order, read from the ``register("<id>", title=...,
    paper_ref=...)`` calls of verify/claims/*.py without importing them."""
    import ast

    out = []
    for path in sorted(_CLAIMS_DIR.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            call = node.value if isinstance(node, ast.Expr) else None
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "register"):
                continue
            kw = {k.arg: k.value for k in call.keywords}
            out.append(
                (ast.literal_eval(call.args[0]), ast.literal_eval(kw["title"]), ast.literal_eval(kw["paper_ref"]))
            )
    group = {"S": 0, "A": 1, "M": 2}
    return sorted(out, key=lambda c: (group.get(c[0][:1], 3), int(c[0][1:]) if c[0][1:].isdigit() else 0, c[0]))


def get_claims(ids=None):
    from .registry import get_claims as _get

    return _get(ids)


_NO_PROGRESS = "hide progress bars (they are shown only when stderr is a terminal, so a log file gets none)"


def show_progress(args) -> bool:
    """Progress bars unless --no-progress, and only on a terminal: redirected to a file, tqdm's carriage returns
    would fill the log with partial lines."""
    return not args.no_progress and sys.stderr.isatty()


class _Formatter(argparse.HelpFormatter):
    """Shows a default only where it says something: not for None, False or a help text that names its default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            "default" in text
            or action.default in (None, False, argparse.SUPPRESS)
            or action.required
            or action.option_strings == []
        ):
            return text
        return f"{text} (default: {action.default})"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's default prints usage too)
        self.exit(2, f"memsep: error: {message}\n")


def _int_at_least(lo: int, what: str):
    """An argparse type: an integer >= lo, else one line naming the constraint."""

    def convert(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a {what}, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be a {what}, got {v}")
        return v

    return convert


_seed = _int_at_least(0, "non-negative integer")
_positive_int = _int_at_least(1, "positive integer")


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {text}")
    return v


def _seeds(text: str) -> list[int]:
    seeds = [_seed(t.strip()) for t in text.split(",") if t.strip()]
    if not seeds:
        raise argparse.ArgumentTypeError("give comma-separated run seeds, e.g. 0,1,2")
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must differ, got {text!r}")
    return seeds


def _claims(text: str) -> list[str]:
    ids = [c.strip().upper() for c in text.split(",") if c.strip()]
    if not ids:
        raise argparse.ArgumentTypeError("give comma-separated claim ids, e.g. S1,S2")
    return ids


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="memsep",
        description="Executable verification of Ye, Zhu, Tao, Chen (2025): "
        "provable separations between memorization and generalization in diffusion models.",
    )
    p.add_argument("--version", action="version", version=f"memsep {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run claims, write results/, figures/ and REPORT.md", formatter_class=_Formatter)
    run.add_argument(
        "--claims",
        type=_claims,
        default=None,
        help="comma-separated claim ids, run in paper order (default: all registered)",
    )
    run.add_argument(
        "--profile",
        choices=PROFILES,
        default="quick",
        help="size preset: ci (test-suite size), quick (minutes on 2 cores), standard (the decisive size of "
        "A5, A6 and M1-M4, hours on 2 cores; other claims run their quick preset), full "
        "(reference scale)",
    )
    run.add_argument(
        "--seed", type=_seed, default=None, help="run seed (default 0); each claim derives its own seed from it"
    )
    run.add_argument(
        "--seeds",
        type=_seeds,
        default=None,
        help="replication: the first seed's results go to results/ (as --seed), each further seed's to "
        "replicates/<profile>/seed-<s>/, and REPORT.md compares the verdicts",
    )
    run.add_argument("--out", type=Path, default=Path("."), help="folder for REPORT.md, results/ and figures/")
    run.add_argument("--dry-run", action="store_true", help="print the resolved configuration as JSON and exit")
    run.add_argument("--no-progress", action="store_true", help=_NO_PROGRESS)
    run.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="torch device for the claims that train networks (auto: cuda when present)",
    )
    run.add_argument(
        "--data",
        type=Path,
        default=None,
        help="local folder of a data set that must be downloaded by the user (the cifar-10-batches-py "
        "folder for M1-M4's full profile); nothing is fetched",
    )
    rpl = sub.add_parser(
        "replicate",
        help="run claims under several run seeds (out/replicates/<profile>/seed-<s>) "
        "and add a verdict-agreement table to REPORT.md",
        formatter_class=_Formatter,
    )
    rpl.add_argument("--seeds", type=_seeds, required=True, help="comma-separated run seeds, e.g. 1,2")
    rpl.add_argument("--claims", type=_claims, default=None, help="comma-separated claim ids (default: all registered)")
    rpl.add_argument("--profile", choices=PROFILES, default="quick", help="size preset of the replicates")
    rpl.add_argument("--out", type=Path, default=Path("."), help="folder holding REPORT.md; replicates go below it")
    rpl.add_argument("--dry-run", action="store_true", help="print the resolved configuration as JSON and exit")
    rpl.add_argument("--no-progress", action="store_true", help=_NO_PROGRESS)
    rpl.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="torch device")
    rpl.add_argument("--data", type=Path, default=None, help="local cifar-10-batches-py folder (M1-M4 full profile)")
    rep = sub.add_parser("report", help="rebuild REPORT.md from existing results/*.json", formatter_class=_Formatter)
    rep.add_argument("--out", type=Path, default=Path("."), help="folder holding results/ (REPORT.md goes there)")
    sub.add_parser("list", help="print the registered claims")
    cl = sub.add_parser(
        "claims",
        help="write CLAIMS.md: each claim's statement, what is inferred and its pre-registered decision rules",
        formatter_class=_Formatter,
    )
    cl.add_argument("--out", type=Path, default=Path("CLAIMS.md"), help="file to write ('-': print it)")
    fz = sub.add_parser(
        "fuzz", help="hunt for counterexamples to a claim's property with Hypothesis", formatter_class=_Formatter
    )
    fz.add_argument("claim", type=str.upper, help="claim id with a fuzz spec (S1, S2, A1, ...)")
    fz.add_argument("--examples", type=_positive_int, default=200, help="distinct examples to try")
    fz.add_argument("--seed", type=_seed, default=0, help="campaign seed; each chunk of examples derives its own")
    fz.add_argument(
        "--time-budget",
        type=_seconds,
        default=600.0,
        help="seconds for the search; shrinking the result may take up to a quarter more",
    )
    fz.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        help="folder for results/fuzz/<claim>.json and the example database .hypothesis/fuzz/<claim>",
    )
    fz.add_argument("--no-progress", action="store_true", help=_NO_PROGRESS)
    sc = sub.add_parser(
        "sampler-check",
        help="the samplers' convergence test: candidate step counts against a 1,000-step Heun reference on the "
        "claims' own models (results/samplers/convergence.json and a REPORT.md section)",
        formatter_class=_Formatter,
    )
    sc.add_argument(
        "--profile",
        choices=("ci", "quick"),
        default="quick",
        help="the claims' profile whose models are checked (quick: 50 min on one thread, measured at 9d96ace)",
    )
    sc.add_argument(
        "--seed", type=_seed, default=0, help="the run seed whose claims' models are checked (as memsep run --seed)"
    )
    sc.add_argument("--out", type=Path, default=Path("."), help="folder holding results/ (REPORT.md is rebuilt there)")
    sc.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="torch device")
    sc.add_argument("--no-progress", action="store_true", help=_NO_PROGRESS)
    from .dit_cli import add_dit_parser

    add_dit_parser(sub, _Parser, _positive_int, _seed)
    return p


def sharing_claims(ids=None) -> list[str]:
    """The claims among ``ids`` (default: every registered claim) whose own module can reach ``empirical.sweep``
    in the static import closure of ``verify.codedeps`` (the runner, which every claim reaches and which imports
    the sweep only to log it, is left out): the only claims whose work torchrun workers share (sweep points and
    pruning stages, through the claim files of ``empirical.workers``). Any other claim is computed whole by every
    worker that runs it, to the same result, so under torchrun the workers other than rank 0 run only these and
    go straight to the shared sweeps while rank 0 computes the rest (README "torchrun")."""
    from .codedeps import closure, module_files, result_roots

    files = module_files()
    return [c.id for c in get_claims(ids) if "memsep.empirical.sweep" in closure(result_roots(c.id)[:1], files)]


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("memsep")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def write_summary(out: Path, records: list[dict], status: int) -> Path:
    """<out>/summary.json: per claim (and run seed) its verdict and every rule's outcome, the tally, the exit status."""
    from memsep.empirical.fileio import atomic_write_text

    runs = [
        {
            "claim": r["claim"]["id"],
            "profile": r.get("profile"),
            "seed": r.get("seed"),
            "verdict": r["result"]["verdict"],
            "rules": {
                a["key"]: a.get("outcome", "pass" if a.get("passed") else "fail")
                for a in r["result"].get("assertions", [])
                if a.get("key")
            },
        }
        for r in records
    ]
    tally = {v: sum(x["verdict"] == v for x in runs) for v in ("CONFIRMED", "NOT CONFIRMED", "INCONCLUSIVE", "ERROR")}
    path = Path(out) / "summary.json"
    atomic_write_text(path, json.dumps({"exit_status": status, "tally": tally, "runs": runs}, indent=1) + "\n")
    return path


def _example_line(rec: dict | None) -> str:
    if not rec or rec.get("example") is None:
        return "-"
    err = f"; error: {rec['error']}" if rec.get("error") else ""
    return f"{json.dumps(rec['example'], sort_keys=True)} (margin {_margin(rec['margin'])}{err})"


def _margin(m) -> str:
    return f"{m:.10g}" if isinstance(m, float) else str(m)


def _fuzz(args) -> int:
    from memsep.empirical.fileio import check_writable_dir

    from .fuzz import get_fuzz_spec, run_fuzz

    spec = get_fuzz_spec(args.claim)  # validate before any work
    check_writable_dir(args.out / "results" / "fuzz", "out")
    print(
        f"[{args.claim}] fuzz: {spec.property} (up to {args.examples} examples, {args.time_budget:g} s, "
        f"seed {args.seed})"
    )
    rec = run_fuzz(args.claim, args.examples, args.seed, args.time_budget, args.out, progress=show_progress(args))
    print(
        f"[{args.claim}] {rec['examples_run']} examples in {rec['search_s']:.1f} s (stopped: {rec['stop_reason']}), "
        f"{rec['elapsed_s']:.1f} s with shrinking ({rec['shrink_examples']} more examples); "
        f"min margin {_margin(rec['min_margin'])}; "
        f"{'COUNTEREXAMPLE FOUND' if rec['counterexample'] else 'no counterexample'}"
    )
    print(f"worst example:  {_example_line(rec['worst_example'])}")
    shrunk = rec["shrunk_example"]
    print(f"shrunk example: {_example_line(shrunk)}" + (f" [{shrunk['note']}]" if shrunk.get("note") else ""))
    print(f"wrote {args.out / 'results' / 'fuzz' / (args.claim + '.json')}")
    return 1 if rec["counterexample"] else 0


def _sampler_check(args) -> int:
    from .runner import choose_device
    from .sampler_check import write_check

    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"out: {args.out} is not a directory")
    device = choose_device(args.device)
    say = None if args.no_progress else (lambda msg: print(f"sampler-check: {msg}", file=sys.stderr, flush=True))
    print(f"wrote {write_check(args.profile, args.out, device, say, args.seed)}")
    if (args.out / "results").is_dir() and any((args.out / "results").glob("*.json")):
        from .report import write_report

        print(f"wrote {write_report(args.out)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            for cid, title, ref in static_claims():
                print(f"{cid:4s} {title}  [{ref}]")
            return 0
        if args.command == "claims":
            from .preregistration import render_claims, write_claims

            if str(args.out) == "-":
                print(render_claims())
            else:
                print(f"wrote {write_claims(args.out)}")
            return 0
        if args.command == "report":
            from .report import write_report

            if args.out.exists() and not args.out.is_dir():
                raise ValueError(f"out: {args.out} is not a directory")
            print(f"wrote {write_report(args.out)}")
            return 0
        if args.command == "fuzz":
            return _fuzz(args)
        if args.command == "sampler-check":
            return _sampler_check(args)
        if args.command == "dit":
            from .dit_cli import run_dit

            return run_dit(args)
        from .runner import resolved_config, run_claims, run_replicates

        if args.command == "run":
            if args.seeds is not None and args.seed is not None:
                raise ValueError("seed, seeds: give one of them")
            primary, more = (args.seed or 0, []) if args.seeds is None else (args.seeds[0], args.seeds[1:])
        else:
            primary, more = None, args.seeds
        if args.dry_run:
            if args.out.exists() and not args.out.is_dir():
                raise ValueError(f"out: {args.out} exists and is not a directory")
            seeds = ([primary] if primary is not None else []) + more
            plan = resolved_config(args.claims, args.profile, seeds[0], args.out)
            if len(seeds) > 1 or primary is None:
                plan["replicate_seeds"] = more
            print(json.dumps(plan, indent=1))
            return 0
        get_claims(args.claims)  # validate ids before any work
        from .runner import choose_device

        device = choose_device(args.device)
        if args.data is not None and not args.data.is_dir():
            raise ValueError(f"data: {args.data} is not a directory")
        from .runner import workers

        rank = workers()[0]  # under torchrun: rank 0 reports, writes and sets the exit status (runner module doc)
        kw = dict(
            progress=show_progress(args) and rank == 0,
            device=device,
            data=None if args.data is None else str(args.data),
        )
        batches = [args.claims]  # rank 0: every claim, in paper order (the runner's)
        if rank != 0:
            kw["echo"] = lambda *a, **k: None
            # rank 0 alone computes the claims that share nothing; the others take the sharing claims one at a time
            # in reverse paper order, so the pruning claims' original models (the longest work no second worker
            # can split) start at once, while rank 0 computes the rest (README "torchrun")
            batches = [[c] for c in reversed(sharing_claims(args.claims))]
            if not batches:
                return 0
        records = []
        for claims in batches:
            if primary is not None:
                records += run_claims(claims, args.profile, primary, args.out, **kw)
            if more:
                records += run_replicates(claims, args.profile, more, args.out, **kw)
        status = 0 if all(r["result"]["verdict"] == "CONFIRMED" for r in records) else 1
        if rank != 0:
            return 0  # a non-zero exit would make torchrun stop rank 0 before it has written
        print(f"wrote {write_summary(args.out, records, status)} (exit status {status})")
        return status
    except ValueError as exc:
        print(f"memsep: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        from memsep.empirical.fileio import os_error_text

        print(f"memsep: error: {os_error_text(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "memsep: interrupted; "
            + ("no campaign record was written" if args.command == "fuzz" else "finished claims are saved in results/"),
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
