"""``memsep fuzz`` (verify/fuzz.py, verify/cli.py, verify/report.py).

Contract: ``run_fuzz`` searches a claim's FuzzSpec with Hypothesis for the smallest margin
(< 0: counterexample), shrinks what it found, stops at --examples or --time-budget, replays
earlier failures from out/.hypothesis/fuzz/<claim>, and writes out/results/fuzz/<claim>.json;
``memsep report`` shows the latest campaign per claim; bad input exits 2 with one line; the
exit status is 1 when a counterexample was found and 0 otherwise.

Engine tests use toy specs registered by a fixture (margin = 1 - x/100 on integer ranges, so
the counterexamples and minimal examples are known exactly); one short real campaign (S2)
runs in a subprocess.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from hypothesis import find
from hypothesis import strategies as st
from test_cli import files_under, memsep, one_error_line

from memsep import verify
from memsep.verify.cli import main
from memsep.verify.fuzz import CHUNK, FUZZ_SPECS, SHRINK_SLACK, FuzzSpec, fuzzable_ids, register_fuzz, run_fuzz
from memsep.verify.registry import PROFILES, REGISTRY, Findings, claim_ids, register
from memsep.verify.report import load_campaigns, load_results


def linear(x: int) -> float:
    return 1 - x / 100


def sleepy(x: int) -> float:
    time.sleep(0.02)
    return 1.0


def crashing(x: int) -> float:
    if x > 150:
        raise ValueError(f"x: too large, got {x}")
    return 1.0


TOYS = {
    "X1": FuzzSpec(st.integers(0, 200), linear, lambda x: {"x": x}, "x <= 100 (planted counterexamples x > 100)"),
    "X2": FuzzSpec(st.integers(0, 100), linear, lambda x: {"x": x}, "x <= 100 (always holds)"),
    "X3": FuzzSpec(st.integers(0, 10**9), sleepy, lambda x: {"x": x}, "always holds, 20 ms per example"),
    "X4": FuzzSpec(st.integers(0, 200), crashing, lambda x: {"x": x}, "margin raises for x > 150"),
}


@pytest.fixture
def toys():
    """Register the toy fuzz specs X1-X4; remove them afterwards."""
    fuzzable_ids()  # the real specs first
    for cid, spec in TOYS.items():
        register_fuzz(cid, spec)
    yield TOYS
    for cid in TOYS:
        FUZZ_SPECS.pop(cid, None)


@pytest.fixture
def temporary_claim():
    """Register a throw-away claim (a check that passes) without a fuzz spec; remove it afterwards."""
    claim_ids()
    added = []

    def add(claim_id):
        def check(ctx):
            f = Findings()
            f.check("passes", True, "on purpose")
            return f.result("passes on purpose", "none")

        register(
            claim_id,
            title=f"temporary {claim_id}",
            paper_ref="test",
            statement="test claim",
            configs={p: {} for p in PROFILES},
        )(check)
        added.append(claim_id)

    yield add
    for claim_id in added:
        REGISTRY.pop(claim_id, None)


def fuzz(claim_id: str, out: Path, **kw) -> dict:
    kw = {"examples": 200, "seed": 0, "time_budget": 60.0, "progress": False} | kw
    return run_fuzz(claim_id, out=out, **kw)


# ---- the engine ----------------------------------------------------------------------------------
def test_planted_counterexample_is_found_and_shrunk_to_101(toys, tmp_path):
    rec = fuzz("X1", tmp_path)
    assert rec["counterexample"] is True and rec["stop_reason"] == "counterexample"
    assert rec["min_margin"] < 0
    assert rec["worst_example"]["margin"] == rec["min_margin"]
    assert rec["worst_example"]["example"]["x"] > 100
    shrunk = rec["shrunk_example"]
    assert shrunk["found"] is True and shrunk["example"] == {"x": 101}  # the smallest x with margin < 0
    assert shrunk["margin"] == pytest.approx(-0.01)
    assert "shrinking" in shrunk["method"].lower()


def test_no_counterexample_reports_min_margin_and_a_shrunk_worst(toys, tmp_path):
    rec = fuzz("X2", tmp_path)
    assert rec["counterexample"] is False
    assert rec["min_margin"] == 0.0 and rec["worst_example"]["example"] == {"x": 100}  # targeting finds the edge
    shrunk = rec["shrunk_example"]
    threshold = rec["min_margin"] + SHRINK_SLACK * (rec["max_margin"] - rec["min_margin"])
    assert shrunk["found"] is True and shrunk["margin"] <= threshold
    # the simplest (smallest) x whose margin is within the slack of the worst
    assert shrunk["example"] == {"x": min(x for x in range(101) if linear(x) <= threshold)}
    assert "stored worst examples" in shrunk["method"]  # replayed from the Pareto front, then shrunk


def no_replay(monkeypatch):
    """Make the replay of the stored worst examples find nothing (as with an empty database)."""
    real = verify.fuzz._hypothesis_run

    def run(*args, **kwargs):
        return None if args[5] == verify.fuzz._REPLAY else real(*args, **kwargs)

    monkeypatch.setattr(verify.fuzz, "_hypothesis_run", run)


def test_shrunk_worst_falls_back_to_find(toys, tmp_path, monkeypatch):
    no_replay(monkeypatch)
    rec = fuzz("X2", tmp_path)
    shrunk = rec["shrunk_example"]
    threshold = rec["min_margin"] + SHRINK_SLACK * (rec["max_margin"] - rec["min_margin"])
    assert shrunk["method"].startswith("hypothesis.find(") and shrunk["found"] is True
    assert shrunk["example"] == {"x": min(x for x in range(101) if linear(x) <= threshold)}


def test_shrunk_worst_not_found_is_said(toys, tmp_path, monkeypatch):
    no_replay(monkeypatch)
    monkeypatch.setattr(verify.fuzz, "_find", lambda *args: None)
    rec = fuzz("X2", tmp_path, examples=20)
    shrunk = rec["shrunk_example"]
    assert shrunk["found"] is False and shrunk["example"] is None
    assert shrunk["note"].startswith("no example with margin <= ")
    assert rec["worst_example"]["example"] is not None


def test_a_margin_that_raises_is_a_counterexample_with_its_error(toys, tmp_path):
    rec = fuzz("X4", tmp_path)
    assert rec["counterexample"] is True and rec["min_margin"] == "-inf"  # strict JSON: -inf as a string
    assert rec["shrunk_example"]["example"] == {"x": 151}
    assert rec["shrunk_example"]["error"] == "ValueError: x: too large, got 151"
    assert rec["errors"] >= 1


def test_time_budget_stops_early_and_says_so(toys, tmp_path):
    t0 = time.monotonic()
    # 10,000 examples at 20 ms each would take 200 s. The budget is 2 s, not less: on a loaded 2-core machine
    # Hypothesis' start-up alone took over 0.3 s (no example evaluated, 2026-12-07), and a budget spent before
    # the first example leaves examples_run = 0.
    rec = fuzz("X3", tmp_path, examples=10_000, time_budget=2.0)
    wall = time.monotonic() - t0
    assert rec["stopped_on_time"] is True and rec["stop_reason"] == "time budget"
    assert 1 <= rec["examples_run"] < 10_000
    assert rec["search_s"] < 2.0 + 1.0  # one example and one chunk's bookkeeping past the budget
    assert wall < 20
    assert rec["time_budget_s"] == 2.0


def test_examples_count_is_respected(toys, tmp_path):
    rec = fuzz("X3", tmp_path, examples=30)
    assert rec["examples_run"] == 30 and rec["stop_reason"] == "examples" and rec["stopped_on_time"] is False
    assert rec["chunks"] >= math.ceil(30 / CHUNK)


def test_campaign_is_reproducible_from_its_seed(toys, tmp_path):
    a = fuzz("X2", tmp_path / "a", examples=40, seed=3)
    b = fuzz("X2", tmp_path / "b", examples=40, seed=3)
    keys = ("examples_run", "min_margin", "worst_example", "shrunk_example", "stop_reason", "chunks")
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}


def test_database_replays_a_failure_on_a_rerun(toys, tmp_path):
    first = fuzz("X1", tmp_path, seed=1)
    assert first["counterexample"] and (tmp_path / ".hypothesis" / "fuzz" / "X1").is_dir()
    assert first["database"] == ".hypothesis/fuzz/X1"
    again = fuzz("X1", tmp_path, seed=2)  # another seed, same database
    fresh = fuzz("X1", tmp_path / "fresh", seed=2)  # same seed, empty database
    assert again["counterexample"] and again["examples_run"] == 1  # the stored x = 101, replayed first
    assert again["shrunk_example"]["example"] == {"x": 101}
    assert fresh["examples_run"] > 1


def test_record_is_written_atomically_with_its_fields(toys, tmp_path):
    rec = fuzz("X2", tmp_path, examples=20, seed=5)
    path = tmp_path / "results" / "fuzz" / "X2.json"
    assert json.loads(path.read_text(encoding="utf-8")) == rec
    assert [p.name for p in path.parent.iterdir()] == ["X2.json"]  # no temporary files left
    assert rec["claim"] == {"id": "X2"} and rec["property"] == TOYS["X2"].property
    assert (rec["seed"], rec["examples_requested"], rec["time_budget_s"]) == (5, 20, 60.0)
    assert rec["hypothesis_version"] and {"python", "packages", "git_commit"} <= set(rec["environment"])
    assert rec["elapsed_s"] >= rec["search_s"] > 0


def test_progress_bar_runs(toys, tmp_path, capsys):
    rec = fuzz("X2", tmp_path, examples=10, progress=True)
    assert rec["examples_run"] == 10
    assert "fuzz X2" in capsys.readouterr().err


# ---- the report ----------------------------------------------------------------------------------
def test_report_shows_the_campaign_and_claims_ignore_the_fuzz_folder(toys, temporary_claim, tmp_path, capsys):
    temporary_claim("X1")
    out = tmp_path / "out"
    assert main(["run", "--claims", "X1", "--profile", "ci", "--out", str(out), "--no-progress"]) == 0
    assert main(["fuzz", "x1", "--out", str(out), "--no-progress", "--time-budget", "60"]) == 1
    assert [r["claim"]["id"] for r in load_results(out)] == ["X1"]  # results/fuzz/*.json are not claims
    assert [c["claim"]["id"] for c in load_campaigns(out)] == ["X1"]
    rec = json.loads((out / "results" / "fuzz" / "X1.json").read_text(encoding="utf-8"))
    assert rec["claim"]["title"] == "temporary X1"
    capsys.readouterr()
    assert main(["report", "--out", str(out)]) == 0
    text = (out / "REPORT.md").read_text(encoding="utf-8")
    fuzz_part = text.split("## Fuzz campaigns", 1)[1]
    assert text.index("## X1 temporary X1") < text.index("## Fuzz campaigns") < text.index("## Environment")
    assert "*Fuzz:* latest campaign ([details](#x1-fuzz-campaign))" in text.split("## Fuzz campaigns")[0]
    assert "### X1 fuzz campaign" in fuzz_part and TOYS["X1"].property in fuzz_part
    assert '`{"x": 101}` (margin -0.01)' in fuzz_part  # the shrunk example
    assert json.dumps(rec["worst_example"]["example"]) in fuzz_part
    assert "Counterexample: **yes**" in fuzz_part
    assert "fuzz campaigns X1" in text.split("## Environment")[1]


def test_report_from_fuzz_results_only(toys, tmp_path, capsys):
    fuzz("X2", tmp_path, examples=20)
    assert main(["report", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    assert "No results yet" in text and "### X2 fuzz campaign" in text and "Counterexample: no" in text


def test_report_on_a_corrupt_campaign_file_exits_2_with_one_line(toys, tmp_path, capsys):
    fuzz("X2", tmp_path, examples=5)
    (tmp_path / "results" / "fuzz" / "X2.json").write_text('{"claim": {"id": "X2"}}', encoding="utf-8")
    assert main(["report", "--out", str(tmp_path)]) == 2
    assert "X2.json" in one_error_line(capsys.readouterr().err)


# ---- the command line ----------------------------------------------------------------------------
def test_cli_prints_min_margin_and_shrunk_example(toys, tmp_path, capsys):
    assert main(["fuzz", "X2", "--examples", "50", "--seed", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "min margin 0;" in captured.out and "no counterexample" in captured.out
    assert 'worst example:  {"x": 100}' in captured.out and 'shrunk example: {"x": ' in captured.out
    assert captured.out.rstrip().endswith(f"wrote {tmp_path / 'results' / 'fuzz' / 'X2.json'}")
    assert captured.err == ""


def test_cli_time_budget(toys, tmp_path, capsys):
    assert (
        main(["fuzz", "X3", "--examples", "100000", "--time-budget", "0.2", "--out", str(tmp_path), "--no-progress"])
        == 0
    )
    assert "(stopped: time budget)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, token",
    [
        pytest.param(["fuzz", "S2", "--time-budget", "0"], "--time-budget", id="zero-budget"),
        pytest.param(["fuzz", "S2", "--time-budget", "-5"], "--time-budget", id="negative-budget"),
        pytest.param(["fuzz", "S2", "--time-budget=-1"], "--time-budget", id="negative-budget-equals"),
        pytest.param(["fuzz", "S2", "--time-budget", "nan"], "--time-budget", id="nan-budget"),
        pytest.param(["fuzz", "S2", "--time-budget", "soon"], "soon", id="word-budget"),
        pytest.param(["fuzz", "S2", "--examples", "0"], "--examples", id="zero-examples"),
        pytest.param(["fuzz", "S2", "--examples", "-3"], "--examples", id="negative-examples"),
        pytest.param(["fuzz", "S2", "--examples", "2.5"], "2.5", id="non-integer-examples"),
        pytest.param(["fuzz", "S2", "--seed", "-1"], "--seed", id="negative-seed"),
        pytest.param(["fuzz"], "claim", id="no-claim"),
    ],
)
def test_bad_fuzz_arguments_exit_2_with_one_line(argv, token, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert token in one_error_line(captured.err)
    assert captured.out == ""
    assert not (tmp_path / "out").exists()


def test_unknown_claim_exits_2_naming_the_fuzzable_ones(tmp_path, capsys):
    assert main(["fuzz", "Z9", "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert "Z9" in line and all(c in line for c in ("S1", "S2", "A1"))
    assert captured.out == "" and not (tmp_path / "out").exists()


def test_claim_without_a_fuzz_spec_exits_2(temporary_claim, tmp_path, capsys):
    temporary_claim("X8")
    assert main(["fuzz", "X8", "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert "X8 has no fuzz spec" in one_error_line(captured.err)
    assert captured.out == "" and not (tmp_path / "out").exists()


def test_run_fuzz_rejects_bad_values(toys, tmp_path):
    for kw, name in [
        ({"examples": 0}, "examples"),
        ({"time_budget": 0}, "time_budget"),
        ({"time_budget": -1.0}, "time_budget"),
        ({"seed": -1}, "seed"),
    ]:
        with pytest.raises(ValueError, match=name):
            fuzz("X2", tmp_path, **kw)
    assert files_under(tmp_path) == []


# ---- the claims' specs ---------------------------------------------------------------------------
@pytest.mark.parametrize("claim_id", ["S1", "S2", "A1"])
def test_claim_spec_on_its_simplest_example(claim_id):
    assert claim_id in fuzzable_ids()
    spec = FUZZ_SPECS[claim_id]
    ex = find(spec.strategy, lambda e: True)  # the minimal example
    desc = spec.describe(ex)
    assert json.loads(json.dumps(desc)) == desc and "seed" in desc
    assert 0 < spec.margin(ex) <= 1


def test_real_campaign_s2_exits_0(tmp_path):
    out, cwd = tmp_path / "out", tmp_path / "cwd"
    cwd.mkdir()
    proc = memsep("fuzz", "S2", "--examples", "10", "--time-budget", "60", "--out", str(out), "--no-progress", cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Hypothesis' storage (its constants cache, the example database) goes under --out, not the working directory
    assert list(cwd.iterdir()) == [] and (out / ".hypothesis" / "fuzz" / "S2").is_dir()
    tmp_path = out
    assert "no counterexample" in proc.stdout and "Traceback" not in proc.stderr
    rec = json.loads((tmp_path / "results" / "fuzz" / "S2.json").read_text(encoding="utf-8"))
    assert rec["claim"]["id"] == "S2" and rec["examples_run"] == 10 and rec["counterexample"] is False
    assert 0 <= rec["min_margin"] <= 1


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path):
    """Without --no-progress, but with stderr redirected to a file (a pipe here): no tqdm carriage returns."""
    proc = memsep("fuzz", "S2", "--examples", "3", "--out", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "fuzz S2" not in proc.stderr
