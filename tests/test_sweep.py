"""empirical.sweep: resumable per-point sweeps (kill midway, rerun: finished points are reused)."""

from __future__ import annotations

import json

import pytest

from memsep.empirical.sweep import point_key, record_key, run_sweep


def test_rerun_reuses_finished_points_and_computes_only_new_ones(tmp_path):
    calls = []

    def fn(p):
        calls.append(p["x"])
        return {"y": p["x"] ** 2}

    run_sweep([{"x": 1}, {"x": 2}], fn, tmp_path / "s")
    recs = run_sweep([{"x": 1}, {"x": 2}, {"x": 3}], fn, tmp_path / "s")
    assert calls == [1, 2, 3]
    assert [r["reused"] for r in recs] == [True, True, False]
    assert [r["result"]["y"] for r in recs] == [1, 4, 9]


def test_a_killed_sweep_keeps_what_finished(tmp_path):
    def fn(p):
        if p["x"] == 3:
            raise KeyboardInterrupt
        return {"y": p["x"]}

    with pytest.raises(KeyboardInterrupt):
        run_sweep([{"x": 1}, {"x": 2}, {"x": 3}], fn, tmp_path)
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 2 and not list(tmp_path.glob("*.tmp"))
    recs = run_sweep([{"x": 1}, {"x": 2}], lambda p: pytest.fail("recomputed"), tmp_path)
    assert all(r["reused"] for r in recs)


def test_a_changed_setting_is_a_new_point(tmp_path):
    assert point_key({"a": 1, "b": 2}) == point_key({"b": 2, "a": 1})
    assert point_key({"a": 1}) != point_key({"a": 1.5})
    run_sweep([{"a": 1}], lambda p: {"v": 1}, tmp_path)
    recs = run_sweep([{"a": 1}, {"a": 1.5}], lambda p: {"v": 2}, tmp_path)
    assert [r["reused"] for r in recs] == [True, False] and [r["result"]["v"] for r in recs] == [1, 2]
    saved = json.loads((tmp_path / f"{record_key({'a': 1})}.json").read_text())
    assert saved["point"] == {"a": 1} and saved["seconds"] >= 0


@pytest.mark.parametrize(
    "content, problem",
    [
        pytest.param("{not json", "invalid JSON", id="invalid-json"),
        pytest.param("", "invalid JSON", id="empty"),
        pytest.param("[1, 2]", "a JSON object expected", id="array"),
        pytest.param('{"point": {"a": 1}}', "missing result", id="no-result"),
        pytest.param('{"point": {"a": 2}, "result": {"v": 9}}', "another point", id="other-point"),
        pytest.param('{"point": {"a": 1}, "result": "oops"}', "result must be an object", id="result-not-object"),
    ],
)
def test_a_bad_point_file_is_reported_and_kept_not_recomputed_over(tmp_path, content, problem):
    """A file at a point's name that is not its record: a BadFileError naming the file; nothing is computed
    and the file is left as it was (the user decides: delete it to recompute)."""
    from memsep.empirical.fileio import BadFileError

    path = tmp_path / f"{record_key({'a': 1})}.json"
    path.write_text(content)
    with pytest.raises(BadFileError, match=problem) as info:
        run_sweep([{"a": 1}], lambda p: pytest.fail("recomputed over a bad file"), tmp_path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert path.read_text() == content


def test_a_point_computed_by_other_code_or_packages_is_recomputed(tmp_path, monkeypatch):
    """The key covers the code fingerprint and the numerical packages' versions: after a code change a rerun
    computes the point again instead of reading the old result back."""
    import memsep.empirical.provenance as prov

    calls = []
    fn = lambda p: calls.append(1) or {"v": len(calls)}  # noqa: E731
    run_sweep([{"a": 1}], fn, tmp_path)
    assert run_sweep([{"a": 1}], fn, tmp_path)[0]["reused"] and len(calls) == 1
    monkeypatch.setattr(prov, "code_fingerprint", lambda: "0123456789abcdef")
    rec = run_sweep([{"a": 1}], fn, tmp_path)[0]
    assert not rec["reused"] and rec["result"] == {"v": 2}
    monkeypatch.setattr(prov, "package_versions", lambda names=(): {n: "0.0" for n in names})
    assert not run_sweep([{"a": 1}], fn, tmp_path)[0]["reused"] and len(calls) == 3


def test_sweep_log_records_what_was_computed_and_read_back(tmp_path):
    from memsep.empirical.provenance import code_fingerprint
    from memsep.empirical.sweep import sweep_log

    sweep_log(reset=True)
    run_sweep([{"a": 1}], lambda p: {"v": 1}, tmp_path)
    run_sweep([{"a": 1}, {"a": 2}], lambda p: {"v": 2}, tmp_path)
    log = sweep_log(reset=True)
    assert [e["reused"] for e in log] == [False, True, False]
    assert all(e["code"] == code_fingerprint() and e["finished_utc"] for e in log)
    assert sweep_log() == []
