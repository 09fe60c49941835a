"""The ``memsep`` command line (verify/cli.py): list, run, report, dry runs and bad input.

Contract (cli.py docstring): bad input (unknown claim, bad flag, bad value) prints ONE line to
stderr and exits 2; ``run`` exits 0 when every claim is CONFIRMED and 1 otherwise, writing
results/<id>.json, figures/ and REPORT.md; ``report`` rebuilds REPORT.md from the JSON only.

Only A1 at profile ci is run for real here (about 5 s); S1/S2 are exercised elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from memsep.theory import derive_seed
from memsep.verify.claims.a1 import CONFIGS as A1_CONFIGS
from memsep.verify.cli import main
from memsep.verify.registry import REGISTRY, Findings, claim_ids

REPO = Path(__file__).resolve().parent.parent


def memsep(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m memsep.verify ARGS`` in a fresh interpreter (what a user's shell sees)."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "memsep.verify", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def one_error_line(stderr: str) -> str:
    """Assert stderr is exactly one 'memsep: error: ...' line without a traceback; return it."""
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{stderr}"
    assert lines[0].startswith("memsep: error: "), lines[0]
    assert "Traceback" not in stderr
    return lines[0]


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.fixture(scope="module")
def a1_run(tmp_path_factory):
    """`memsep run --claims A1 --profile ci --out OUT` once, in a subprocess: (completed process, OUT)."""
    cwd = tmp_path_factory.mktemp("a1_cwd")
    out = tmp_path_factory.mktemp("a1_run") / "out"
    proc = memsep("run", "--claims", "A1", "--profile", "ci", "--out", str(out), "--no-progress", cwd=cwd)
    return proc, out


# ---- list ----------------------------------------------------------------------------------------
def test_list_prints_registered_claims_in_paper_order(capsys):
    assert main(["list"]) == 0
    captured = capsys.readouterr()
    ids = [line.split()[0] for line in captured.out.splitlines()]
    assert ids == claim_ids()  # every registered claim, paper order
    assert {"S1", "S2", "A1"} <= set(ids) and ids.index("S1") < ids.index("S2") < ids.index("A1")
    assert captured.err == ""
    assert all("[" in line and line.rstrip().endswith("]") for line in captured.out.splitlines())


def test_python_m_verify_list_matches_main(capsys, tmp_path):
    assert main(["list"]) == 0
    in_process = capsys.readouterr().out
    proc = memsep("list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == in_process
    assert proc.stderr == ""


# ---- run A1 (ci) -------------------------------------------------------------------------------
def test_run_a1_exits_zero_and_reports_progress(a1_run):
    proc, out = a1_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "[A1] CONFIRMED in " in proc.stdout
    assert re.search(r"^\[A1\] claim 1 of 1, 0:00:00 elapsed: ", proc.stdout, re.M), proc.stdout
    assert re.search(
        f"wrote {re.escape(str(out / 'REPORT.md'))}\n"
        r"1 claim\(s\) in \d+:\d\d:\d\d: 1 CONFIRMED, 0 NOT CONFIRMED, 0 INCONCLUSIVE, 0 ERROR\n"
        f"wrote {re.escape(str(out / 'summary.json'))} \\(exit status 0\\)$",
        proc.stdout.rstrip(),
    ), proc.stdout


def test_run_a1_writes_results_json(a1_run):
    _, out = a1_run
    rec = json.loads((out / "results" / "A1.json").read_text(encoding="utf-8"))
    assert rec["claim"]["id"] == "A1"
    assert (rec["profile"], rec["seed"], rec["error"]) == ("ci", 0, None)
    assert rec["claim_seed"] == derive_seed(0, "A1")
    assert rec["result"]["verdict"] == "CONFIRMED"
    assert rec["result"]["assertions"] and all(a["passed"] for a in rec["result"]["assertions"])
    assert 0 < rec["runtime_s"] < 300
    assert rec["config"] == json.loads(json.dumps(dataclasses.asdict(A1_CONFIGS["ci"])))
    assert {"python", "packages", "git_commit"} <= set(rec["environment"])


def test_run_a1_writes_figure(a1_run):
    _, out = a1_run
    png = out / "figures" / "A1_hessian.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 1000
    rec = json.loads((out / "results" / "A1.json").read_text(encoding="utf-8"))
    assert rec["result"]["figures"] == ["figures/A1_hessian.png"]


def test_run_a1_writes_report_with_a1_section(a1_run):
    _, out = a1_run
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    title = REGISTRY["A1"].title
    assert text.startswith("# memsep verification report")
    assert f"## A1 {title}" in text
    assert "**Verdict:** CONFIRMED." in text
    assert "| [A1](#a1-" in text  # summary row linking to the section
    assert "![A1 figure](figures/A1_hessian.png)" in text
    assert "## S1 " not in text and "## S2 " not in text  # only what was run


def test_run_leaves_only_the_expected_files(a1_run):
    _, out = a1_run
    assert files_under(out) == [
        "REPORT.md",
        "figures",
        "figures/A1_hessian.png",
        "results",
        "results/A1.json",
        "summary.json",
    ]


def test_run_a1_writes_a_summary_for_scripts(a1_run):
    """summary.json: the exit status, the tally and every rule's outcome by key (issue 15)."""
    proc, out = a1_run
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rec = json.loads((out / "results" / "A1.json").read_text(encoding="utf-8"))
    assert summary["exit_status"] == proc.returncode == 0
    assert summary["tally"] == {"CONFIRMED": 1, "NOT CONFIRMED": 0, "INCONCLUSIVE": 0, "ERROR": 0}
    (run,) = summary["runs"]
    assert (run["claim"], run["profile"], run["seed"], run["verdict"]) == ("A1", "ci", 0, "CONFIRMED")
    assert run["rules"] == {a["key"]: a["outcome"] for a in rec["result"]["assertions"]}
    assert set(run["rules"]) == set(REGISTRY["A1"].rules)


def test_version_prints_the_installed_version(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"memsep {metadata.version('memsep')}"


def test_list_reads_the_claims_without_importing_them_and_equals_the_registry():
    from memsep.verify import registry
    from memsep.verify.cli import PROFILES, static_claims

    assert static_claims() == [(c.id, c.title, c.paper_ref) for c in registry.get_claims()]
    assert PROFILES == registry.PROFILES


def test_help_shows_only_defaults_that_say_something(capsys):
    """No "(default: None)", "(default: False)" or doubled defaults in any command's help (issue 15)."""
    for argv in (
        ["run"],
        ["replicate"],
        ["report"],
        ["claims"],
        ["fuzz"],
        ["dit", "train"],
        ["dit", "prune"],
        ["dit", "sample"],
        ["dit", "evaluate"],
    ):
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: None)" not in text and "(default: False)" not in text, argv
        assert not re.search(r"default[^()]*\) \(default:", text), argv  # "(default: x) (default: y)"
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "(default: quick)" in " ".join(capsys.readouterr().out.split())


def test_time_of_memsep_list_and_version(tmp_path, record_property):
    """Reported, not asserted (wall time depends on the machine): `memsep list` and `--version` in a subprocess."""
    import time

    for argv in (["list"], ["--version"]):
        t0 = time.perf_counter()
        proc = memsep(*argv, cwd=tmp_path)
        record_property(f"seconds {' '.join(argv)}", round(time.perf_counter() - t0, 3))
        assert proc.returncode == 0, proc.stderr


def test_help_version_list_and_report_do_not_import_the_numerical_code(a1_run, tmp_path):
    """What makes them fast (issue: `memsep list` took 7-8 s): they import no scipy, sympy or torch (report reads
    JSON; --help, --version and list do not even import numpy). Checked on sys.modules, not on wall time."""
    _, out = a1_run
    heavy = ("scipy", "sympy", "torch")
    for argv, banned in (
        (["--version"], heavy + ("numpy",)),
        (["--help"], heavy + ("numpy",)),
        (["list"], heavy + ("numpy",)),
        (["report", "--out", str(out)], heavy),
    ):
        code = (
            "import sys, contextlib, io\nfrom memsep.verify.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(sys.argv[1:])\n    except SystemExit:\n        pass\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({banned!r})))"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().splitlines()[-1] == "[]", (argv, proc.stdout)


# ---- report ------------------------------------------------------------------------------------
def test_report_rebuilds_the_same_report_from_json_only(a1_run, tmp_path, capsys):
    _, out = a1_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    original = (copy / "REPORT.md").read_text(encoding="utf-8")
    (copy / "REPORT.md").unlink()
    shutil.rmtree(copy / "figures")  # the report needs the JSON only
    assert main(["report", "--out", str(copy)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {copy / 'REPORT.md'}"
    assert (copy / "REPORT.md").read_text(encoding="utf-8") == original


CORRUPT = [
    pytest.param(b'{"claim": {"id": "S1"', id="truncated-json"),
    pytest.param(b"", id="empty-file"),
    pytest.param(b"[1, 2]", id="json-list"),
    pytest.param(b'{"result": {}}', id="json-without-claim"),
    # A non-UTF-8 file: the one-line error names the file.
    pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
    # Missing fields are reported by load_results (one line, exit 2), not as a KeyError later.
    pytest.param(b'{"claim": {"id": "S1"}}', id="json-missing-fields"),
]


def _folder_with_bad_results(a1_out: Path, folder: Path, content: bytes) -> Path:
    """A copy of the A1 run plus results/S1.json holding ``content`` and a previous REPORT.md."""
    shutil.copytree(a1_out, folder)
    (folder / "REPORT.md").write_text("previous report\n", encoding="utf-8")
    (folder / "results" / "S1.json").write_bytes(content)
    return folder


@pytest.mark.parametrize("content", CORRUPT)
def test_report_on_corrupt_results_exits_2_with_one_line(a1_run, tmp_path, capsys, content):
    folder = _folder_with_bad_results(a1_run[1], tmp_path / "out", content)
    assert main(["report", "--out", str(folder)]) == 2
    captured = capsys.readouterr()
    assert "S1.json" in one_error_line(captured.err)  # names the bad file
    assert captured.out == ""
    assert (folder / "REPORT.md").read_text(encoding="utf-8") == "previous report\n"


def test_report_on_corrupt_results_in_a_subprocess(a1_run, tmp_path):
    folder = _folder_with_bad_results(a1_run[1], tmp_path / "out", b'{"claim": ')
    proc = memsep("report", "--out", str(folder), cwd=tmp_path)
    assert proc.returncode == 2
    assert "S1.json" in one_error_line(proc.stderr)
    assert (folder / "REPORT.md").read_text(encoding="utf-8") == "previous report\n"


# ---- unknown claims ------------------------------------------------------------------------------
def test_unknown_claim_exits_2_with_one_line_naming_it(tmp_path):
    out = tmp_path / "out"
    proc = memsep("run", "--claims", "Z9", "--profile", "ci", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 2
    line = one_error_line(proc.stderr)
    assert "Z9" in line and "A1" in line  # names it and the known ones
    assert proc.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["run", "--claims", "Z9"], id="run"),
        pytest.param(["run", "--claims", "A1,Z9"], id="run-known-and-unknown"),
        pytest.param(["run", "--claims", "Z9", "--dry-run"], id="dry-run"),
    ],
)
def test_unknown_claim_in_process(argv, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*argv, "--profile", "ci", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "Z9" in one_error_line(captured.err)
    assert captured.out == ""
    assert not out.exists()  # validated before any work


# ---- bad flags and values ----------------------------------------------------------------------
BAD_ARGS = [
    pytest.param(["run", "--bogus"], "--bogus", id="unknown-flag"),
    pytest.param(["run", "--profile", "huge"], "huge", id="bad-profile"),
    pytest.param(["run", "--seed", "-1"], "--seed", id="negative-seed"),
    pytest.param(["run", "--seed=-3"], "--seed", id="negative-seed-equals"),
    pytest.param(["run", "--seed", "1.5"], "1.5", id="non-integer-seed"),
    pytest.param(["run", "--seed", "abc"], "abc", id="word-seed"),
    pytest.param(["run", "--seed"], "--seed", id="seed-without-value"),
    pytest.param(["run", "--claims", ","], "--claims", id="empty-claims"),
    pytest.param(["report", "--profile", "ci"], "--profile", id="report-unknown-flag"),
    pytest.param(["frobnicate"], "frobnicate", id="unknown-command"),
    pytest.param([], "command", id="no-command"),
]


@pytest.mark.parametrize("argv, token", BAD_ARGS)
def test_bad_arguments_exit_2_with_one_line(argv, token, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert token in one_error_line(captured.err)
    assert captured.out == ""


@pytest.mark.parametrize(
    "argv, token",
    [
        pytest.param(["run", "--profile", "huge"], "huge", id="bad-profile"),
        pytest.param(["run", "--seed", "-1"], "--seed", id="negative-seed"),
    ],
)
def test_bad_arguments_in_a_subprocess(argv, token, tmp_path):
    proc = memsep(*argv, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 2
    assert token in one_error_line(proc.stderr)
    assert proc.stdout == ""
    assert files_under(tmp_path) == []


# ---- dry run -----------------------------------------------------------------------------------
def test_dry_run_prints_resolved_config_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert main(["run", "--claims", "a1", "--profile", "ci", "--seed", "7", "--out", str(out), "--dry-run"]) == 0
    captured = capsys.readouterr()
    cfg = json.loads(captured.out)
    assert (cfg["profile"], cfg["seed"], cfg["out"]) == ("ci", 7, str(out))
    assert list(cfg["claims"]) == ["A1"]  # ids upper-cased
    assert cfg["claims"]["A1"]["claim_seed"] == derive_seed(7, "A1")
    assert cfg["claims"]["A1"]["config"] == json.loads(json.dumps(dataclasses.asdict(A1_CONFIGS["ci"])))
    assert captured.err == ""
    assert files_under(tmp_path) == []


def test_dry_run_defaults_cover_all_claims(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--dry-run"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert (cfg["profile"], cfg["seed"], cfg["out"]) == ("quick", 0, ".")
    assert list(cfg["claims"]) == claim_ids() and {"S1", "S2", "A1"} <= set(cfg["claims"])
    assert files_under(tmp_path) == []


# ---- exit status 1 when a claim is not confirmed -------------------------------------------------
def _failing_check(ctx):
    f = Findings()
    f.check("always fails", False, "on purpose")
    return f.result("fails on purpose", "none")


def _raising_check(ctx):
    raise RuntimeError("boom from the check")


@pytest.mark.parametrize(
    "check, mark",
    [
        pytest.param(_failing_check, "**NOT CONFIRMED**", id="not-confirmed"),
        pytest.param(_raising_check, "**ERROR**", id="error"),
    ],
)
def test_run_exits_1_when_a_claim_is_not_confirmed(temporary_claims, tmp_path, capsys, check, mark):
    temporary_claims("X7", check)
    out = tmp_path / "out"
    assert main(["run", "--claims", "x7", "--profile", "ci", "--out", str(out), "--no-progress"]) == 1
    assert capsys.readouterr().err == ""
    report = (out / "REPORT.md").read_text(encoding="utf-8")
    assert mark in report and "## X7 temporary X7" in report
    assert json.loads((out / "results" / "X7.json").read_text(encoding="utf-8"))["config"] == {"profile_size": 0}


# ---- claims, seeds and replicates (issue 12) --------------------------------------------------------------


def test_claims_writes_the_preregistration(tmp_path, capsys):
    from memsep.verify.preregistration import render_claims

    assert main(["claims", "--out", str(tmp_path / "C.md")]) == 0
    assert (tmp_path / "C.md").read_text(encoding="utf-8") == render_claims()
    assert main(["claims", "--out", "-"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {tmp_path / 'C.md'}\n") and out.endswith(render_claims() + "\n")


def test_seeds_runs_the_main_seed_and_replicates(temporary_claims, tmp_path, capsys):
    def check(ctx):
        f = Findings()
        f.check("seed is even", ctx.run_seed % 2 == 0, f"run seed {ctx.run_seed}")
        return f.result("ok", "none")

    temporary_claims("X8", check)
    assert main(["run", "--claims", "X8", "--seeds", "0,1,2", "--out", str(tmp_path), "--no-progress"]) == 1
    assert json.loads((tmp_path / "results" / "X8.json").read_text())["seed"] == 0
    for s in (1, 2):
        rec = json.loads((tmp_path / "replicates" / "quick" / f"seed-{s}" / "results" / "X8.json").read_text())
        assert rec["seed"] == s and rec["result"]["verdict"] == ("CONFIRMED" if s == 2 else "NOT CONFIRMED")
    report = (tmp_path / "REPORT.md").read_text()
    assert "## Replication" in report and "quick / 1" in report and "2 of 3 agree" in report
    capsys.readouterr()
    assert (
        main(
            ["replicate", "--claims", "X8", "--seeds", "4", "--profile", "ci", "--out", str(tmp_path), "--no-progress"]
        )
        == 0
    )
    assert (tmp_path / "replicates" / "ci" / "seed-4" / "results" / "X8.json").is_file()
    assert "ci / 4" in (tmp_path / "REPORT.md").read_text()


@pytest.mark.parametrize(
    "argv, token",
    [
        (["run", "--seed", "1", "--seeds", "0,1"], "seed, seeds"),
        (["run", "--seeds", "1,1"], "seeds must differ"),
        (["run", "--seeds", ","], "give comma-separated run seeds"),
        (["replicate"], "--seeds"),
    ],
)
def test_bad_seed_lists_exit_2(argv, token, capsys):
    try:
        rc = main(argv + ["--dry-run"])
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    assert token in capsys.readouterr().err
