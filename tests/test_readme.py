"""README.md stays in step with the code: the two set-up commands and the claims table."""

from __future__ import annotations

import re
from pathlib import Path

from verify.registry import claim_ids

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands():
    head = README.split("## ")[0]
    assert 'pip install -e . && memsep run' in head
    assert 'pip install -e ".[test]" && pytest' in head


def test_claims_table_marks_exactly_the_registered_claims_implemented():
    rows = re.findall(r"^\| ([SAM]\d) \| .* \| (implemented|planned[^|]*) \|$", README, flags=re.M)
    table = {cid: status for cid, status in rows}
    assert set(table) == {f"S{i}" for i in range(1, 6)} | {f"A{i}" for i in range(1, 7)} | {f"M{i}" for i in range(1, 5)}
    implemented = {cid for cid, status in table.items() if status == "implemented"}
    assert implemented == set(claim_ids())
