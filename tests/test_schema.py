"""The results format (verify/schemas/*.schema.json, JSON Schema 2020-12): every committed results file, replicate
and fuzz campaign, and a fresh run's record, validate; the report's loader asks for no field the schema leaves out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

from memsep.verify import report  # noqa: E402
from memsep.verify.registry import get_claims  # noqa: E402
from memsep.verify.runner import SCHEMA, run_claim  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "verify" / "schemas"


def _validator(name: str):
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator, path: Path) -> list[str]:
    return [
        f"{path.relative_to(REPO)}: {'/'.join(map(str, e.absolute_path))}: {e.message[:120]}"
        for e in validator.iter_errors(json.loads(path.read_text(encoding="utf-8")))
    ]


def test_committed_results_and_replicates_follow_the_schema():
    v = _validator("results.schema.json")
    paths = sorted((REPO / "results").glob("*.json")) + sorted((REPO / "replicates").glob("*/seed-*/results/*.json"))
    assert paths, "no committed results"
    bad = [e for p in paths for e in _errors(v, p)]
    assert not bad, bad[:10]


def test_committed_fuzz_campaigns_follow_the_schema():
    v = _validator("campaign.schema.json")
    paths = sorted((REPO / "results" / "fuzz").glob("*.json"))
    assert paths, "no committed campaigns"
    bad = [e for p in paths for e in _errors(v, p)]
    assert not bad, bad[:10]


def test_a_fresh_record_follows_the_schema_and_a_broken_one_does_not(tmp_path):
    rec = run_claim(get_claims(["S4"])[0], "ci", 0, tmp_path)
    v = _validator("results.schema.json")
    assert rec["schema"] == SCHEMA == 1
    assert not _errors(v, tmp_path / "results" / "S4.json")
    broken = dict(rec, result=dict(rec["result"], verdict="PROBABLY"))
    assert any("verdict" in "/".join(map(str, e.absolute_path)) for e in v.iter_errors(broken))


@pytest.mark.parametrize(
    "name, fields, body",
    [
        ("results.schema.json", report._RESULT_FIELDS, report._RESULT_BODY),
        ("campaign.schema.json", report._FUZZ_FIELDS, None),
    ],
)
def test_the_report_reads_only_fields_the_schema_describes(name, fields, body):
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    for f in fields:
        key = f.rstrip("_")
        assert key in schema["properties"], key
        if not f.endswith("_"):
            assert key in schema["required"], key
    if body is not None:
        res = schema["properties"]["result"]
        for f in body:
            key = f.rstrip("_")
            assert key in res["properties"], key
            assert f.endswith("_") or key in res["required"], key
