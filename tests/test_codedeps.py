"""verify/codedeps.py: the dependency closure that decides whether a committed result is still current, and the
guards that keep its rules sound (no dynamic imports, registration-only claim package, no import-time side
effects)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

import pytest

from memsep.verify import codedeps
from memsep.verify.registry import claim_ids

REPO = Path(__file__).resolve().parent.parent


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


@pytest.fixture
def tree(tmp_path):
    """A miniature of the project's layout with every kind of edge the rules name."""
    _write(
        tmp_path,
        {
            "theory/__init__.py": "from .alpha import f\nfrom .beta import g\n",
            "theory/alpha.py": "def f():\n    return 1\n",
            "theory/beta.py": "def g():\n    return 2\n",
            "theory/unused.py": "x = 1\n",
            "empirical/__init__.py": "_LAZY = {'Net': 'nets'}\n",
            "empirical/nets.py": "from memsep.theory.alpha import f\n",
            "empirical/other.py": "def h():\n    from .deep.leaf import k\n",
            "empirical/deep/__init__.py": "from . import leaf\n",
            "empirical/deep/leaf.py": "from .. import nets\n",
            "empirical/lonely.py": "",
            "verify/__init__.py": "from .registry import register\n",
            "verify/registry.py": "def load():\n    from . import claims\n",
            "verify/runner.py": "from .report import write\nfrom .registry import load\n",
            "verify/report.py": "from memsep.empirical import lonely\n",
            "verify/claims/__init__.py": "from . import x1, x2\n",
            "verify/claims/x1.py": "from memsep.theory import f\nfrom memsep.empirical import Net\n"
            "from ..registry import load\n",
            "verify/claims/x2.py": "from memsep.empirical.other import h\n",
            "verify/fuzz.py": "from . import claims\n",
        },
    )
    return tmp_path


def test_closure_follows_the_rules_of_the_module_docstring(tree):
    files = codedeps.module_files(tree)
    got = codedeps.closure(codedeps.result_roots("X1"), files)
    # from memsep.theory import f: the package is imported for a name, so its re-exports are followed entirely
    assert {"memsep.theory", "memsep.theory.alpha", "memsep.theory.beta"} <= got and "memsep.theory.unused" not in got
    # from memsep.empirical import Net: the literal _LAZY resolves the name to its submodule, and nothing else
    assert {"memsep.empirical", "memsep.empirical.nets"} <= got and "memsep.empirical.other" not in got
    # registration: verify.registry's import of verify.claims does not pull in the sibling claim x2
    assert {
        "memsep.verify.claims",
        "memsep.verify.claims.x1",
        "memsep.verify.registry",
    } <= got and "memsep.verify.claims.x2" not in got
    # output-only: the runner's import of the report (and what only the report imports) is not a dependency
    assert "memsep.verify.report" not in got and "memsep.empirical.lonely" not in got
    got2 = codedeps.closure(codedeps.result_roots("X2"), files)
    # an import inside a function counts; a parent package (empirical.deep) runs but its re-exports are not
    # followed unless it is imported for a name; relative imports with level 2 resolve to the grandparent
    assert {
        "memsep.empirical.other",
        "memsep.empirical.deep",
        "memsep.empirical.deep.leaf",
        "memsep.empirical.nets",
        "memsep.theory.alpha",
    } <= got2
    fuzz = codedeps.closure(codedeps.result_roots("X1", "fuzz"), files)
    assert "memsep.verify.fuzz" in fuzz and "memsep.verify.claims.x2" not in fuzz and "memsep.verify.runner" not in fuzz


def test_closure_paths_and_bad_input(tree):
    paths = codedeps.closure_paths("X1", "run", tree)
    assert "verify/claims/x1.py" in paths and "verify/runner.py" in paths and "theory/__init__.py" in paths
    with pytest.raises(ValueError, match="claim_id"):
        codedeps.closure_paths("Q9", "run", tree)
    with pytest.raises(ValueError, match="kind"):
        codedeps.result_roots("X1", "replay")


def test_blob_ids_and_manifests_match_git(tree):
    subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
    subprocess.run(["git", "add", "."], cwd=tree, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "t"], cwd=tree, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tree, capture_output=True, text=True).stdout.strip()
    assert codedeps.commit_blobs(commit, tree) == codedeps.tree_blobs(tree)
    path = codedeps.write_manifest(commit, tree)
    assert path == tree / "results" / "code" / f"{commit}.json"
    (tree / "theory" / "alpha.py").write_text("def f():\n    return 3\n", encoding="utf-8")
    assert codedeps.changed_files(codedeps.commit_blobs(commit, tree), codedeps.tree_blobs(tree)) == {"theory/alpha.py"}
    assert codedeps.commit_blobs("0" * 40, tree) is None
    with pytest.raises(ValueError, match="commit"):
        codedeps.write_manifest("0" * 40, tree)


def test_commit_fingerprint_is_provenances_fingerprint():
    """At a commit whose code is the checkout's, the fingerprint recomputed from git equals the one runs record."""
    from memsep.empirical.provenance import code_fingerprint

    if codedeps.commit_blobs("HEAD", REPO) != codedeps.tree_blobs(REPO):
        pytest.skip("code differs from HEAD (uncommitted changes) or no git here")
    assert codedeps.commit_fingerprint("HEAD", REPO) == code_fingerprint()


def test_every_claims_closure_starts_at_its_module_and_leaves_out_the_report():
    for cid in claim_ids():
        for kind in ("run", "fuzz"):
            paths = codedeps.closure_paths(cid, kind)
            assert f"verify/claims/{cid.lower()}.py" in paths and "theory/__init__.py" in paths
            assert "verify/report.py" not in paths and "verify/cli.py" not in paths, (cid, kind)


# The guards: what would make the static closure miss a dependency.


def _code_files():
    return sorted(p for d in codedeps.CODE_DIRS for p in (REPO / d).rglob("*.py"))


def test_no_dynamic_imports_outside_the_lazy_map():
    """Only the PEP 562 loaders of empirical/__init__ and verify/__init__ import by name at run time (their names
    are the literal _LAZY, which the closure follows)."""
    for p in _code_files():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in ("importlib.import_module", "import_module", "__import__", "exec", "eval"):
                    assert p.relative_to(REPO).as_posix() in ("empirical/__init__.py", "verify/__init__.py"), (
                        p,
                        node.lineno,
                        name,
                    )


def test_the_claims_package_only_registers():
    """verify/claims/__init__ imports its claim modules and does nothing else (the registration rule)."""
    body = ast.parse((REPO / "verify" / "claims" / "__init__.py").read_text(encoding="utf-8")).body
    for node in body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        assert isinstance(node, ast.ImportFrom) and (
            node.level == 1 and node.module is None or node.module == "__future__"
        ), ast.unparse(node)


_STATE_CALLS = (
    "torch.set_",
    "torch.manual_seed",
    "torch.use_deterministic",
    "torch.backends",
    "np.random.seed",
    "numpy.random.seed",
    "random.seed",
    "np.seterr",
    "numpy.seterr",
    "np.set_printoptions",
    "warnings.filterwarnings",
    "warnings.simplefilter",
    "matplotlib.use",
    "os.environ",
    "os.putenv",
    "sys.setrecursionlimit",
    "setattr",
)


def test_no_module_changes_global_state_when_imported():
    """Importing a module (as registration does) runs only definitions and register / register_fuzz calls: a
    claim module cannot change another claim's numbers by being imported."""
    for p in _code_files():
        for node in ast.parse(p.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'":
                continue
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                assert ast.unparse(node.value.func) in ("register", "register_fuzz") or p.name == "__main__.py", (
                    p,
                    node.lineno,
                )
            for sub in ast.walk(node):
                text = ast.unparse(sub) if isinstance(sub, (ast.Call, ast.Attribute, ast.Subscript)) else ""
                assert not any(text.startswith(s) for s in _STATE_CALLS), (p, node.lineno, text)


def test_main_answers_help_and_refuses_options_it_does_not_know(capsys):
    from memsep.verify.codedeps import main

    assert main(["--help"]) == 0 and "COMMIT" in capsys.readouterr().out
    assert main(["--bogus"]) == 2 and "COMMIT: expected commit ids, got --bogus" in capsys.readouterr().err


def test_a_manifest_is_named_by_the_full_commit_id_whatever_name_is_given(tmp_path):
    """Results record full commit ids; a manifest written for a short id or HEAD must be found under the full one."""
    from memsep.verify.codedeps import manifest_path, write_manifest

    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "theory").mkdir()
    (tmp_path / "theory" / "a.py").write_text("x = 1\n")
    subprocess.run(git + ["add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "-qm", "c"], cwd=tmp_path, check=True)
    full = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    for name in ("HEAD", full[:7]):
        path = write_manifest(name, tmp_path)
        assert path == manifest_path(full, tmp_path) and path.is_file()
        assert json.loads(path.read_text())["commit"] == full
    with pytest.raises(ValueError, match="commit"):
        write_manifest("0" * 40, tmp_path)


# ---- profile tables: an edit of one profile's entry leaves the other profiles' results current -------------------

_TABLE_MODULE = '''"""doc: é before the table (non-ASCII, so character and byte offsets differ)"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Cfg:
    steps: int = 10


CONFIGS = {
    "ci": Cfg(steps=1),  # a comment inside the table
    "quick": Cfg(),
}
OTHER = {"ci": 1}


def run(cfg):
    return cfg.steps
'''


def test_code_hashes_ignore_documentation_and_the_rest_ignores_profile_tables():
    code, rest = codedeps.code_hashes(_TABLE_MODULE)
    assert code is not None and rest is not None and code != rest
    assert len(codedeps.profile_tables(ast.parse(_TABLE_MODULE))) == 1  # OTHER does not end in CONFIGS
    docs = _TABLE_MODULE.replace("é before", "edited before").replace("# a comment", "# another comment")
    docs = docs.replace("def run(cfg):\n", 'def run(cfg):\n    """A docstring."""\n\n')
    assert codedeps.code_hashes(docs) == (code, rest)  # docstrings, comments, blank lines
    inside = _TABLE_MODULE.replace('"quick": Cfg(),', '"quick": Cfg(steps=5),')
    assert codedeps.code_hashes(inside)[0] != code and codedeps.code_hashes(inside)[1] == rest
    new_profile = _TABLE_MODULE.replace('"quick": Cfg(),', '"quick": Cfg(),\n    "standard": Cfg(steps=3),')
    assert codedeps.code_hashes(new_profile)[1] == rest
    for outside in (
        _TABLE_MODULE.replace("return cfg.steps", "return cfg.steps + 1"),
        _TABLE_MODULE.replace("steps: int = 10", "steps: int = 11"),  # every entry's meaning changes
        _TABLE_MODULE.replace('OTHER = {"ci": 1}', 'OTHER = {"ci": 2}'),  # not a profile table
        _TABLE_MODULE.replace("return cfg.steps", 'return "text", cfg.steps'),  # a string that is not a docstring
    ):
        assert codedeps.code_hashes(outside)[0] != code and codedeps.code_hashes(outside)[1] != rest
    assert codedeps.code_hashes("x = 1\n")[1] is None
    assert codedeps.code_hashes("CONFIGS = {1: 2}\n")[1] is None  # keys must be profile names (strings)
    assert codedeps.code_hashes("def f(:\n") == (None, None)  # does not parse: only its bytes count
    annotated = "CONFIGS: dict = {'ci': 1}\nx = 1\n"
    assert codedeps.code_hashes(annotated)[1] == codedeps.code_hashes(annotated.replace("1}", "2}"))[1]
    assert codedeps.code_hashes(annotated)[1] != codedeps.code_hashes(annotated.replace("x = 1", "x = 2"))[1]


def test_stale_paths_lets_documentation_always_and_a_table_edit_with_the_same_config_pass():
    v = codedeps.HASH_VERSION
    old = {
        "files": {"a.py": "1", "b.py": "1", "c.py": "1", "d.py": "1"},
        "hash_version": v,
        "code": {"a.py": "A", "b.py": "B", "c.py": "C", "d.py": "D"},
        "tables": {"a.py": "ra", "b.py": "rb"},
    }
    head = {
        "files": {"a.py": "2", "b.py": "2", "c.py": "1", "d.py": "2"},  # a: table edit, b: code edit, d: docs
        "hash_version": v,
        "code": {"a.py": "A2", "b.py": "B2", "c.py": "C", "d.py": "D"},
        "tables": {"a.py": "ra", "b.py": "rb2"},
    }
    paths = {"a.py", "b.py", "c.py", "d.py"}
    assert codedeps.stale_paths(paths, old, head, same_config=True) == ["b.py"]
    assert codedeps.stale_paths(paths, old, head, same_config=False) == ["a.py", "b.py"]
    assert codedeps.stale_paths({"c.py", "d.py"}, old, head, same_config=False) == []
    bare = {"files": old["files"]}  # a manifest written before the rule: every change counts
    assert codedeps.stale_paths(paths, bare, head, same_config=True) == ["a.py", "b.py", "d.py"]
    other = {**old, "hash_version": v + 1}  # hashes of another canonical form are not compared
    assert codedeps.stale_paths(paths, other, head, same_config=True) == ["a.py", "b.py", "d.py"]


def test_manifests_record_the_hashes_of_their_commit(tmp_path):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _write(tmp_path, {"verify/claims/x.py": _TABLE_MODULE, "theory/a.py": "x = 1\n"})
    subprocess.run(git + ["add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "-qm", "c"], cwd=tmp_path, check=True)
    manifest = json.loads(codedeps.write_manifest("HEAD", tmp_path).read_text())
    code, rest = codedeps.code_hashes(_TABLE_MODULE)
    assert manifest["tables"] == {"verify/claims/x.py": rest} and manifest["code"]["verify/claims/x.py"] == code
    assert manifest["hash_version"] == codedeps.HASH_VERSION and set(manifest["code"]) == set(manifest["files"])
    hashes = {k: manifest[k] for k in ("hash_version", "code", "tables")}
    assert hashes == codedeps.commit_hashes("HEAD", tmp_path) == codedeps.tree_hashes(tmp_path)
    assert codedeps.commit_hashes("0" * 40, tmp_path) is None


def test_nothing_a_result_depends_on_reads_docstrings():
    """The premise of the documentation exception: no module in a result's closure reads ``__doc__``."""
    from memsep.verify.registry import claim_ids

    paths = codedeps.sampler_check_paths(REPO)
    for cid in claim_ids():
        paths |= codedeps.closure_paths(cid, "run", REPO) | codedeps.closure_paths(cid, "fuzz", REPO)
    readers = [p for p in sorted(paths) if re.search(r"__doc__|getdoc", (REPO / p).read_text(encoding="utf-8"))]
    assert not readers, readers


def _record(claim_id: str, profile: str) -> dict:
    from memsep.verify.registry import get_claims
    from memsep.verify.runner import _config_dict

    (claim,) = get_claims([claim_id])
    config = json.loads(json.dumps(_config_dict(claim.config(profile))))
    return {"claim": {"id": claim_id}, "profile": profile, "config": config}


def test_config_unchanged_compares_the_recorded_config_with_the_claims_now(monkeypatch):
    import dataclasses

    from memsep.verify.registry import get_claims

    std, quick = _record("A6", "standard"), _record("A6", "quick")
    assert codedeps.config_unchanged("run", std) and codedeps.config_unchanged("run", quick)
    (a6,) = get_claims(["A6"])
    resized = dataclasses.replace(a6.configs["quick"], reps=a6.configs["quick"].reps + 1)
    monkeypatch.setitem(a6.configs, "quick", resized)
    assert codedeps.config_unchanged("run", std) and not codedeps.config_unchanged("run", quick)
    assert not codedeps.config_unchanged("fuzz", std)  # campaigns read no table: every change counts
    assert not codedeps.config_unchanged("run", {k: v for k, v in std.items() if k != "config"})
    assert not codedeps.config_unchanged("run", {**std, "profile": "nonsense"})
    with pytest.raises(ValueError, match="kind"):
        codedeps.config_unchanged("other", std)


def test_result_stale_paths_checks_the_config_only_where_a_file_changed(monkeypatch):
    calls = []
    monkeypatch.setattr(codedeps, "config_unchanged", lambda kind, rec: calls.append(kind) or True)
    v = codedeps.HASH_VERSION
    old = {"files": {"a.py": "1"}, "hash_version": v, "code": {"a.py": "A"}, "tables": {"a.py": "r"}}
    assert codedeps.result_stale_paths({"a.py"}, "run", {}, old, old) == [] and calls == []
    head = {"files": {"a.py": "2"}, "hash_version": v, "code": {"a.py": "A2"}, "tables": {"a.py": "r"}}
    assert codedeps.result_stale_paths({"a.py"}, "run", {}, old, head) == [] and calls == ["run"]
    monkeypatch.setattr(codedeps, "config_unchanged", lambda kind, rec: False)
    assert codedeps.result_stale_paths({"a.py"}, "run", {}, old, head) == ["a.py"]


def test_the_committed_sampler_check_resolves_to_its_recorded_config():
    """The check's record is compared the same way; its config must resolve from its profile and run seed."""
    path = REPO / "results" / "samplers" / "convergence.json"
    if not path.is_file():
        pytest.skip("no committed sampler check")
    rec = json.loads(path.read_text(encoding="utf-8"))
    assert codedeps.config_unchanged("check", rec)
    bad = json.loads(json.dumps(rec))
    bad["config"]["reference_steps"] = rec["config"]["reference_steps"] + 1
    assert not codedeps.config_unchanged("check", bad)


def _table_aliases(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names if a.name.endswith(codedeps.TABLE_SUFFIX)}
        elif isinstance(node, ast.Name) and node.id.endswith(codedeps.TABLE_SUFFIX):
            names.add(node.id)
    return names


def _constant_table_reads(source: str) -> list[int]:
    """Lines where ``source`` reads a profile table (a name ending in CONFIGS, or imported as one) by a constant key,
    outside every profile table's literal."""
    tree = ast.parse(source)
    aliases = _table_aliases(tree)
    allowed = {id(n) for t in codedeps.profile_tables(tree) for n in ast.walk(t)}
    out = []
    for node in ast.walk(tree):
        target = key = None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            target, key = node.value.id, node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.args
        ):
            target, key = node.func.value.id, node.args[0]
        if target in aliases and isinstance(key, ast.Constant) and id(node) not in allowed:
            out.append(node.lineno)
    return out


def test_no_code_reads_a_profile_table_entry_by_a_constant_name_outside_the_tables():
    """The premise of the profile-table rule: a computation reads the entry of its own profile only (through
    ``Claim.config(profile)``, which the results record), so ``SOME_CONFIGS["quick"]`` (or ``.get("quick")``) may
    appear only inside another profile table's literal, where it becomes part of that entry's recorded config (A4's
    ``a3=A3_CONFIGS["quick"]``). ``Claim.config`` reading ``self.configs["quick"]`` for a claim without a standard
    entry is the same: the standard result records the quick entry it ran."""
    bad = [
        f"{name}:{line}"
        for name, path in codedeps.module_files(REPO).items()
        for line in _constant_table_reads(path.read_text(encoding="utf-8"))
    ]
    assert not bad, f"profile table entries read by a constant name outside a table: {bad}"
    assert _table_aliases(ast.parse("from x import FIT_CONFIGS as F\nA_CONFIGS = 1\n")) == {"F", "A_CONFIGS"}
    planted = 'from x import P_CONFIGS as P\nCONFIGS = {"ci": P["ci"]}\nq = CONFIGS["quick"]\nr = P.get("ci")\n'
    assert _constant_table_reads(planted) == [3, 4]  # the read inside the table is allowed
