"""README.md stays in step with the code: the two set-up commands and the claims table (ids and verdicts)."""

from __future__ import annotations

import re
from pathlib import Path

from memsep.verify.registry import claim_ids

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands():
    head = README.split("## ")[0]
    assert "pip install -e . && memsep run" in head
    test_command = 'pip install -e ".[test]" && ruff check . && ruff format --check . && pytest'
    assert test_command in head
    # .ci/run runs exactly the README's test command (after installing the CPU build of torch)
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    steps = [line.strip() for line in ci.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for step in ('python -m pip install --quiet -e ".[test]"', "ruff check .", "ruff format --check .", "pytest"):
        assert step in steps, step


def test_claims_table_shows_every_registered_claim_with_its_committed_verdict():
    """The README's claim table lists exactly the registered claims, each with the verdict of the committed
    results/<id>.json (the quick profile's main run): the README cannot drift from REPORT.md."""
    rows = re.findall(
        r"^\| ([SAM]\d) \| .* \| (CONFIRMED|NOT CONFIRMED|INCONCLUSIVE|ERROR) \| ([^|]*) \|$", README, flags=re.M
    )
    table = {cid: verdict for cid, verdict, _ in rows}
    assert set(table) == set(claim_ids())
    results = Path(__file__).resolve().parent.parent / "results"
    if not results.is_dir():
        return
    from memsep.verify.report import load_results

    committed = {r["claim"]["id"]: r["result"]["verdict"] for r in load_results(results.parent)}
    assert table == committed


def test_the_repository_stands_alone():
    """README, REPORT, CLAIMS and the code never point to files outside the repository (the project's private
    spec folder): what a reader needs lives here."""
    root = Path(__file__).resolve().parent.parent
    texts = {
        p: p.read_text(encoding="utf-8")
        for p in [root / "README.md", root / "REPORT.md", root / "CLAIMS.md"]
        + [q for d in ("theory", "empirical", "verify", "tests") for q in (root / d).rglob("*.py")]
        if p.name != "test_readme.py"
    }
    bad = {
        str(p.relative_to(root))
        for p, t in texts.items()
        if re.search(r"\.\./shared|shared/spec|PAPER\.md|MEASURED\.md|STYLE\.md", t)
    }
    assert not bad, sorted(bad)
