"""REPORT.md rendering, atomic writes, JSON conversion, the claim registry and the runner.

verify/report.py renders REPORT.md from results dicts only; verify/io.py writes atomically
(temporary file + os.replace) and converts non-finite floats to strings so results files are
strict JSON; verify/registry.py holds claims and decides verdicts; verify/runner.py turns an
exception in a check into an ERROR record that keeps the traceback.

Synthetic records are built the way verify/runner.py builds them (``make_record``); one real
record comes from running A1 at profile ci once (module-scoped fixture, about 5 s).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest

from memsep import empirical
from memsep.verify.io import atomic_write_json, atomic_write_text, to_jsonable
from memsep.verify.registry import PROFILES, REGISTRY, Assertion, CheckResult, Findings, claim_ids, get_claims, register
from memsep.verify.report import load_results, render_report, write_report
from memsep.verify.runner import SCHEMA, run_claim

ENV = {
    "python": "3.11.0",
    "platform": "test-platform",
    "machine": "x86_64",
    "cpu_count": 2,
    "packages": {"numpy": "1.0"},
    "device": {"cuda": False, "torch_threads": 2},
    "git_commit": "0123abc",
    "git_dirty": False,
}


def make_record(
    claim_id: str,
    verdict: str = "CONFIRMED",
    *,
    runtime_s: float = 1.0,
    headline: str | None = None,
    assertions: list[tuple[str, bool, str]] | None = None,
    tables=None,
    error: str | None = None,
    profile: str = "ci",
    seed: int = 0,
) -> dict:
    """A results dict with the runner's layout (verify/runner.py::run_claim)."""
    if assertions is None:
        assertions = [] if verdict == "ERROR" else [("main check", verdict == "CONFIRMED", "detail text")]
    result = CheckResult(
        verdict=verdict,
        headline=headline or f"headline of {claim_id}",
        method="" if verdict == "ERROR" else f"method of {claim_id}",
        assertions=[Assertion(*a) for a in assertions],
        tables=tables or [],
    )
    return {
        "schema": SCHEMA,
        "claim": {
            "id": claim_id,
            "title": f"Title of {claim_id}",
            "paper_ref": f"Ref {claim_id}",
            "statement": f"Statement of {claim_id}.",
        },
        "profile": profile,
        "seed": seed,
        "claim_seed": 12345,
        "config": {"n": 3},
        "result": result.to_dict(),
        "runtime_s": runtime_s,
        "environment": ENV,
        "error": error,
    }


def split_row(line: str) -> list[str]:
    """Cells of a markdown table row (escaped pipes stay inside their cell)."""
    assert line.startswith("|") and line.endswith("|"), line
    return [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]


def summary_block(text: str) -> list[str]:
    """The lines of the summary table (header, rule and rows)."""
    after = text.split("## Summary\n", 1)[1]
    block = after.split("\n## ", 1)[0]
    return [line for line in block.strip().splitlines() if line.startswith("|")]


def section_ids(text: str) -> list[str]:
    """Claim ids of the '## <id> <title>' section headings, in order."""
    return [
        m.group(1)
        for m in re.finditer(r"^## (\S+)", text, flags=re.M)
        if m.group(1) not in ("Summary", "Environment", "Rule", "Replication")
    ]


@pytest.fixture(scope="module")
def a1_record(tmp_path_factory):
    """run_claim(A1, ci, seed 0) once; the record as re-read from results/A1.json."""
    out = tmp_path_factory.mktemp("a1_report")
    run_claim(get_claims(["A1"])[0], "ci", 0, out)
    return json.loads((out / "results" / "A1.json").read_text(encoding="utf-8"))


# ---- the summary table -------------------------------------------------------------------------
def test_summary_has_one_row_per_claim_with_verdict_and_runtime():
    records = [
        make_record("S1", "CONFIRMED", runtime_s=1.26),
        make_record("A2", "NOT CONFIRMED", runtime_s=0.04),
        make_record("M1", "ERROR", runtime_s=12.34, error="Traceback (most recent call last):\nboom"),
    ]
    lines = summary_block(render_report(records))
    assert split_row(lines[0]) == ["claim", "title", "verdict", "headline", "runtime", "profile"]
    rows = [split_row(line) for line in lines[2:]]
    assert len(rows) == 3
    assert [r[0].split("]")[0].lstrip("[") for r in rows] == ["S1", "A2", "M1"]
    assert [r[2] for r in rows] == ["CONFIRMED", "**NOT CONFIRMED**", "**ERROR**"]
    assert [r[4] for r in rows] == ["1.3 s", "0.0 s", "12.3 s"]
    assert [r[1] for r in rows] == ["Title of S1", "Title of A2", "Title of M1"]


def test_summary_escapes_pipes_in_headlines():
    lines = summary_block(render_report([make_record("S1", headline="a | b, c|d")]))
    row = split_row(lines[2])
    assert len(row) == 6 and row[3] == r"a \| b, c\|d"


def test_summary_row_stays_one_line_for_a_multiline_error(temporary_claims, tmp_path):
    """A check failing with np.testing.assert_allclose raises a multi-line message; it becomes the headline.

    Table cells collapse whitespace (newlines included), so the markdown row stays one line.
    """

    def check(ctx):
        np.testing.assert_allclose(1.0, 2.0)

    rec = run_claim(temporary_claims("X2", check), "ci", 0, tmp_path)
    assert rec["result"]["verdict"] == "ERROR" and "\n" in rec["result"]["headline"]
    lines = summary_block(render_report([rec]))
    assert all(line.startswith("|") and line.endswith("|") for line in lines), lines
    assert len(lines) == 3


def test_empty_results_render_a_hint():
    text = render_report([])
    assert "No results yet" in text and "## Summary" not in text


# ---- section order -------------------------------------------------------------------------------
def test_sections_appear_in_paper_order(tmp_path):
    """S before A before M, numeric (not string) order within a group: S2 before S10."""
    for claim_id in ["M1", "A10", "S2", "A2", "S10", "S1", "A1"]:
        atomic_write_json(tmp_path / "results" / f"{claim_id}.json", make_record(claim_id))
    expected = ["S1", "S2", "S10", "A1", "A2", "A10", "M1"]
    assert [r["claim"]["id"] for r in load_results(tmp_path)] == expected
    text = write_report(tmp_path).read_text(encoding="utf-8")
    assert section_ids(text) == expected
    assert text.index("## M1 ") < text.index("## Environment")
    rows = [split_row(line)[0] for line in summary_block(text)[2:]]
    assert [r.split("]")[0].lstrip("[") for r in rows] == expected


def test_render_report_keeps_the_order_it_is_given():
    """render_report renders its list as given; ordering is load_results' job (documented split)."""
    text = render_report([make_record("A1"), make_record("S1")])
    assert section_ids(text)[:2] == ["A1", "S1"]


# ---- section contents ----------------------------------------------------------------------------
def test_a1_section_from_a_real_record(a1_record):
    text = render_report([a1_record])
    section = text.split("## A1 ", 1)[1].split("\n## ", 1)[0]
    assert "**Verdict:** CONFIRMED." in section
    assert section.count("- [x] ") == len(a1_record["result"]["assertions"]) and "- [ ] " not in section
    assert "![A1 figure](figures/A1_hessian.png)" in section
    assert "**Tolerances and where they come from.**" in section
    assert f"Seeds: claim = {a1_record['claim_seed']}" in section
    assert f"Config: `{json.dumps(a1_record['config'], sort_keys=True)}`" in section
    assert f"runtime {a1_record['runtime_s']:.1f} s" in section
    assert "```" not in section  # no traceback block
    for table in a1_record["result"]["tables"]:
        assert f"**{table['title']}**" in section or f"<summary><b>{table['title']}</b>" in section


def test_not_confirmed_is_rendered_visibly():
    rec = make_record(
        "S2",
        "NOT CONFIRMED",
        assertions=[("bound holds", True, "1.0 <= 2.0"), ("gap matches", False, "0.31 vs 0.30")],
        headline="gap off by 3%",
    )
    text = render_report([rec])
    assert "**Verdict:** **NOT CONFIRMED**. gap off by 3%" in text
    assert "- [ ] gap matches: 0.31 vs 0.30" in text
    assert "- [x] bound holds: 1.0 <= 2.0" in text
    assert "| **NOT CONFIRMED** |" in text


def test_error_record_from_run_claim_renders_its_traceback(temporary_claims, tmp_path):
    def exploding_check(ctx):
        raise RuntimeError("boom from the check")

    rec = run_claim(temporary_claims("X3", exploding_check), "ci", 0, tmp_path)
    text = render_report([rec])
    assert "**Verdict:** **ERROR**. check raised RuntimeError: boom from the check" in text
    assert "| **ERROR** |" in text
    block = text.split("```\n", 1)[1].split("\n```", 1)[0]
    assert block.startswith("Traceback (most recent call last):")
    assert "exploding_check" in block and block.endswith("RuntimeError: boom from the check")


# ---- the runner's records ------------------------------------------------------------------------
def test_run_claim_turns_an_exception_into_an_error_record(temporary_claims, tmp_path):
    def exploding_check(ctx):
        raise ZeroDivisionError("division in the check")

    rec = run_claim(temporary_claims("X4", exploding_check), "quick", 5, tmp_path)
    assert rec["result"]["verdict"] == "ERROR"
    assert rec["result"]["headline"] == "check raised ZeroDivisionError: division in the check"
    assert rec["error"].startswith("Traceback (most recent call last):")
    assert "exploding_check" in rec["error"] and "ZeroDivisionError: division in the check" in rec["error"]
    assert (rec["profile"], rec["seed"], rec["config"]) == ("quick", 5, {"profile_size": 1})
    on_disk = json.loads((tmp_path / "results" / "X4.json").read_text(encoding="utf-8"))
    assert on_disk["error"] == rec["error"] and on_disk["result"]["verdict"] == "ERROR"


def test_run_claim_rejects_a_check_that_returns_no_checkresult(temporary_claims, tmp_path):
    rec = run_claim(temporary_claims("X5", lambda ctx: {"verdict": "CONFIRMED"}), "ci", 0, tmp_path)
    assert rec["result"]["verdict"] == "ERROR"
    assert rec["result"]["headline"] == "check raised TypeError: check of X5 returned dict, not CheckResult"
    assert "TypeError" in rec["error"]


def test_run_claim_keeps_numbers_of_a_not_confirmed_check(temporary_claims, tmp_path):
    def failing_check(ctx):
        f = Findings()
        f.check("ratio below 1", False, "ratio 1.7")
        f.table("numbers", ["k", "ratio"], [[1, 1.7], [2, float("nan")]])
        return f.result("ratio too big", "direct computation")

    rec = run_claim(temporary_claims("X6", failing_check), "ci", 0, tmp_path)
    assert rec["result"]["verdict"] == "NOT CONFIRMED" and rec["error"] is None
    on_disk = json.loads((tmp_path / "results" / "X6.json").read_text(encoding="utf-8"))
    assert on_disk["result"]["tables"][0]["rows"] == [[1, 1.7], [2, "nan"]]  # NaN kept, as a string
    text = write_report(tmp_path).read_text(encoding="utf-8")
    assert "| 2 | nan |" in text


# ---- atomic writes -------------------------------------------------------------------------------
def _report_folder(tmp_path: Path) -> Path:
    atomic_write_json(tmp_path / "results" / "S1.json", make_record("S1"))
    (tmp_path / "REPORT.md").write_text("previous report\n", encoding="utf-8")
    return tmp_path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in ("REPORT.md", "results"))


def test_write_report_replaces_the_previous_report(tmp_path):
    folder = _report_folder(tmp_path)
    path = write_report(folder)
    assert path == folder / "REPORT.md"
    assert "## S1 Title of S1" in path.read_text(encoding="utf-8")
    assert _leftovers(folder) == []


@pytest.mark.parametrize(
    "target, exc",
    [
        pytest.param("replace", OSError("disk full"), id="os.replace-raises"),
        pytest.param("fsync", OSError("I/O error"), id="fsync-raises-after-write"),
        pytest.param("replace", KeyboardInterrupt(), id="interrupted-at-replace"),
    ],
)
def test_write_report_failure_keeps_previous_report_and_no_temp_file(tmp_path, monkeypatch, target, exc):
    folder = _report_folder(tmp_path)

    def fail(*args, **kwargs):
        raise exc

    with monkeypatch.context() as m:
        m.setattr(empirical.fileio.os, target, fail)
        with pytest.raises(type(exc)):
            write_report(folder)
    assert (folder / "REPORT.md").read_text(encoding="utf-8") == "previous report\n"
    assert _leftovers(folder) == []


def test_write_failing_midway_keeps_previous_file(tmp_path, monkeypatch):
    """The text is half written when the write raises: the target must still hold the old text."""
    target = tmp_path / "REPORT.md"
    target.write_text("previous report\n", encoding="utf-8")
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.fh.close()
            return False

        def write(self, text):
            self.fh.write(text[: len(text) // 2])
            self.fh.flush()
            raise OSError("no space left on device")

    monkeypatch.setattr(empirical.fileio.os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k)))
    with pytest.raises(OSError, match="no space"):
        atomic_write_text(target, "new report " * 100)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REPORT.md"]


# ---- JSON: non-finite floats -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param(float("nan"), "nan", id="nan"),
        pytest.param(float("inf"), "inf", id="inf"),
        pytest.param(float("-inf"), "-inf", id="-inf"),
        pytest.param(np.float32("nan"), "nan", id="float32-nan"),
        pytest.param(np.float64("inf"), "inf", id="float64-inf"),
        pytest.param(1.5, 1.5, id="finite-float"),
        pytest.param(np.float32(0.5), 0.5, id="float32-finite"),
        pytest.param(np.int64(7), 7, id="int64"),
        pytest.param(np.bool_(True), True, id="numpy-bool"),
        pytest.param(Path("a/b"), "a/b", id="path"),
        pytest.param((1.0, float("nan")), [1.0, "nan"], id="tuple"),
        pytest.param(np.array([[np.inf, 2.0]]), [["inf", 2.0]], id="ndarray"),
        pytest.param({1: {"x": [np.nan]}}, {"1": {"x": ["nan"]}}, id="nested-dict-int-key"),
    ],
)
def test_to_jsonable_converts_non_finite_and_numpy_values(value, expected):
    out = to_jsonable(value)
    assert out == expected and type(out) is type(expected)


def test_atomic_write_json_writes_strict_json(tmp_path):
    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name} written")

    path = tmp_path / "r.json"
    atomic_write_json(path, {"value": float("nan"), "ci": (float("-inf"), np.float64("inf")), "n": np.int32(3)})
    data = json.loads(path.read_text(encoding="utf-8"), parse_constant=no_constants)
    assert data == {"value": "nan", "ci": ["-inf", "inf"], "n": 3}
    assert math.isnan(float(data["value"]))  # the string reads back as NaN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


# ---- registry ----------------------------------------------------------------------------------------
def _noop_check(ctx):
    raise AssertionError("never called")


ALL_PROFILES = {p: {} for p in PROFILES}


def test_register_rejects_a_duplicate_of_a_real_claim():
    claim_ids()
    original = REGISTRY["A1"]
    with pytest.raises(ValueError, match=r"^claim_id: 'A1' is registered twice"):
        register("A1", title="again", paper_ref="x", statement="x", configs=ALL_PROFILES)(_noop_check)
    assert REGISTRY["A1"] is original


def test_register_rejects_a_duplicate_temporary_claim(temporary_claims):
    first = temporary_claims("X8", _noop_check)
    with pytest.raises(ValueError, match=r"'X8' is registered twice"):
        register("X8", title="again", paper_ref="x", statement="x", configs=ALL_PROFILES)(_noop_check)
    assert REGISTRY["X8"] is first


@pytest.mark.parametrize(
    "configs, missing",
    [
        pytest.param({"ci": {}, "quick": {}}, "['full']", id="missing-full"),
        pytest.param({"quick": {}, "full": {}}, "['ci']", id="missing-ci"),
        pytest.param({}, "['ci', 'quick', 'full']", id="missing-all"),
        pytest.param({"CI": {}, "quick": {}, "full": {}}, "['ci']", id="wrong-case"),
    ],
)
def test_register_rejects_missing_profiles(configs, missing):
    with pytest.raises(ValueError, match=r"^configs: must define profiles .*missing " + re.escape(missing)):
        register("X9", title="t", paper_ref="p", statement="s", configs=configs)(_noop_check)
    assert "X9" not in REGISTRY


@pytest.mark.parametrize(
    "ids, named",
    [
        pytest.param(["Z9"], ["Z9"], id="one-unknown"),
        pytest.param(["S1", "Z9", "Q3"], ["Z9", "Q3"], id="known-and-unknown"),
        pytest.param(["a1"], ["a1"], id="lower-case-is-not-normalised-here"),
    ],
)
def test_get_claims_unknown_id_raises_naming_it(ids, named):
    with pytest.raises(ValueError, match=r"^claims: unknown claim id\(s\) " + re.escape(", ".join(named))) as exc:
        get_claims(ids)
    assert str(exc.value).endswith("known: " + ", ".join(claim_ids()))


def test_get_claims_orders_and_deduplicates():
    assert [c.id for c in get_claims(["A1", "S2", "A1", "S1"])] == ["S1", "S2", "A1"]
    assert [c.id for c in get_claims(None)] == claim_ids()
    assert claim_ids().index("S1") < claim_ids().index("S2") < claim_ids().index("A1")


def test_claim_config_rejects_an_unknown_profile():
    with pytest.raises(ValueError, match=r"^profile: must be one of ci, quick, standard, full, got 'huge'"):
        get_claims(["A1"])[0].config("huge")


def test_checkresult_rejects_an_unknown_verdict():
    with pytest.raises(ValueError, match=r"^verdict: must be one of"):
        CheckResult(verdict="PROBABLY", headline="h", method="m")


# ---- Findings: the verdict follows from the assertions ----------------------------------------------
@pytest.mark.parametrize(
    "outcomes, verdict",
    [
        pytest.param([True], "CONFIRMED", id="one-pass"),
        pytest.param([True, True, np.bool_(True)], "CONFIRMED", id="all-pass"),
        pytest.param([False], "NOT CONFIRMED", id="one-fail"),
        pytest.param([True, False, True], "NOT CONFIRMED", id="one-fail-among-passes"),
        pytest.param([np.bool_(False), False], "NOT CONFIRMED", id="all-fail"),
    ],
)
def test_findings_verdict(outcomes, verdict):
    f = Findings()
    returned = [f.check(f"check {i}", ok, "detail") for i, ok in enumerate(outcomes)]
    assert returned == [bool(ok) for ok in outcomes] and all(type(r) is bool for r in returned)
    f.tolerance("rtol", 1e-8, "test")
    result = f.result("headline", "method")
    assert result.verdict == verdict
    assert [a.passed for a in result.assertions] == [bool(ok) for ok in outcomes]
    assert result.tolerances[0].value == "1e-08"
    json.dumps(result.to_dict())  # serialisable as is


def test_findings_without_assertions_is_an_error():
    f = Findings()
    f.table("numbers only", ["a"], [[1]])
    with pytest.raises(RuntimeError, match="at least one assertion"):
        f.result("headline", "method")


# ---- the verdict protocol in the report (issue 12) -----------------------------------------------------------


def test_inconclusive_verdict_tally_and_decision_statistics_are_rendered():
    from memsep.verify.registry import decision
    from memsep.verify.stats import directional_rule

    outcome, test = directional_rule(0.02, 0.04, 0.052, 0.05, effect_source="Table 1", what="drop")
    rec = make_record("M2", "INCONCLUSIVE")
    rec["result"]["assertions"] = [dataclasses.asdict(decision("M2.lowers", outcome, "counts", test))]
    rec["result"]["assertions"][0]["name"] = "pruning lowers memorization"
    text = render_report([make_record("S1"), rec, make_record("A2", "NOT CONFIRMED")])
    assert "*INCONCLUSIVE*" in text
    assert "**Tally:** 3 claims: 1 CONFIRMED, 1 NOT CONFIRMED, 1 INCONCLUSIVE, 0 ERROR." in text
    line = next(ln for ln in text.splitlines() if re.match(r"- \[[x ?]\] ", ln) and "`M2.lowers`" in ln)
    assert line.startswith("- [?] `M2.lowers` pruning lowers memorization: counts")
    assert "power there 0.37" in line and "(Table 1)" in line and "minimum detectable effect" in line
    assert "one-sided z; drop; estimate 0.02 +- 0.04 (se)" in line


def test_at_a_glance_says_which_rules_decide_each_verdict():
    from memsep.verify.registry import decision

    rec = make_record("A6", "NOT CONFIRMED")
    rec["result"]["assertions"] = [
        dataclasses.asdict(decision(k, o, "detail"))
        for k, o in (("A6.a", "pass"), ("A6.b", "fail"), ("A6.c", "inconclusive"))
    ]
    text = render_report([make_record("S1"), rec, make_record("M1", "ERROR", error="boom")])
    glance = text.split("**At a glance**", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in glance.splitlines() if ln.startswith("- ")]
    assert len(lines) == 3
    assert lines[0].endswith("CONFIRMED: 1 of 1 rules pass: the paper's statement holds at this scale.")
    assert "1 of 3 rules pass; the data contradict `A6.b`; too little evidence to decide `A6.c`." in lines[1]
    assert "did not finish" in lines[2]
    assert "**What to take from it:** 1 of 3 rules pass" in text


def test_long_tables_are_folded_and_short_ones_are_not():
    from memsep.verify.registry import Table
    from memsep.verify.report import FOLD_ROWS

    short = Table("Short table", ["a"], [[i] for i in range(FOLD_ROWS)])
    long = Table("Long <table>", ["a"], [[i] for i in range(FOLD_ROWS + 1)])
    text = render_report([make_record("S1", tables=[short, long])])
    assert "**Short table**" in text and "<summary><b>Short" not in text
    i = text.index("<details>")
    block = text[i : text.index("</details>", i)]
    assert f"<summary><b>Long &lt;table&gt;</b> ({FOLD_ROWS + 1} rows; click to open)</summary>" in block
    assert sum(ln.startswith("| ") for ln in block.splitlines()) == FOLD_ROWS + 2  # header + rows


def test_replication_section_compares_verdicts_across_seeds():
    main = [make_record("S1", seed=0, profile="quick"), make_record("A2", seed=0, profile="quick")]
    reps = [
        (
            "quick",
            1,
            [make_record("S1", seed=1, profile="quick"), make_record("A2", "NOT CONFIRMED", seed=1, profile="quick")],
        ),
        ("ci", 2, [make_record("S1", seed=2), make_record("A2", seed=2)]),
    ]
    text = render_report(main, replicates=reps)
    block = text.split("## Replication\n", 1)[1].split("\n## ", 1)[0]
    rows = {
        split_row(ln)[0]: split_row(ln) for ln in block.splitlines() if ln.startswith("| S") or ln.startswith("| A")
    }
    assert rows["S1"][-1] == "quick: all 2 agree; ci: all 1 agree"
    assert rows["A2"][-1] == "quick: 1 of 2 agree; ci: all 1 agree"
    assert "CONFIRMED (quick / 0)" in block and "ci / 2" in block


def test_replicates_are_read_from_their_folders_and_validated(tmp_path):
    from memsep.verify.report import load_replicates

    for prof, seed in (("quick", 1), ("ci", 2)):
        folder = tmp_path / "replicates" / prof / f"seed-{seed}" / "results"
        folder.mkdir(parents=True)
        atomic_write_json(folder / "S1.json", make_record("S1", seed=seed, profile=prof))
    (tmp_path / "replicates" / "other").mkdir()
    assert [(p, s) for p, s, _ in load_replicates(tmp_path)] == [("ci", 2), ("quick", 1)]
    (tmp_path / "replicates" / "ci" / "seed-2" / "results" / "S1.json").write_text('{"verdict": "MAYBE"}')
    with pytest.raises(ValueError, match="seed-2/results/S1.json"):
        load_replicates(tmp_path)


def test_provenance_line_says_what_was_computed_and_read_back():
    rec = make_record("A3")
    rec["environment"] = {**ENV, "memsep": "0.1.0", "code": "abc123", "git_commit": "f" * 40, "git_dirty": False}
    rec["provenance"] = {
        "finished_utc": "2026-12-01T12:00:00+00:00",
        "command": "memsep run",
        "sweeps": {
            "computed": 3,
            "read_back": 2,
            "read_back_from": [
                {
                    "code": "abc123",
                    "git_commit": "e" * 40,
                    "points": 2,
                    "first_utc": "2026-12-01T11:00",
                    "last_utc": "2026-12-01T11:05",
                }
            ],
        },
    }
    text = render_report([rec])
    line = next(ln for ln in text.splitlines() if ln.startswith("*Provenance:*"))
    assert "by `memsep run`" in line and "code abc123" in line and "3 computed in this run, 2 read back" in line
    assert "2 from code abc123 at commit eeeeeeeeeeee" in line


def test_rule_changes_section_lists_every_logged_change():
    from memsep.verify.rule_changes import RULE_CHANGES

    text = render_report([make_record("S1")])
    block = text.split("## Rule changes\n", 1)[1].split("\n## ", 1)[0]
    assert len(RULE_CHANGES) >= 2
    for ch in RULE_CHANGES:
        assert f"### {ch.date}, {ch.claim}" in block and ch.old in block and ch.verdict_old in block
