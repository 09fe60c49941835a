"""Which source files a committed result depends on: static import closures and code manifests.

A results file records the commit and the code fingerprint it was computed at (``environment``). Rerunning every
claim after every change of code costs about 3 hours on 2 CPU cores (the standard M1-M4 run alone about 1 h 40 min),
so a result is kept as long as no source file its computation can reach has changed; this module says which files
those are, and ``tests/test_protocol.py`` checks every committed result against it.

    module_files(root)            {module name: path} of every .py file under theory/, empirical/ and verify/
    import_edges(name, files)     the modules of ours that one module imports (module level and inside functions)
    closure(roots, files)         every module reachable from ``roots``, by the rules below
    result_roots(claim_id, kind)  where a claim's computation starts: its claim module, with the runner (a run's
                                  results) or the fuzz engine (a fuzz campaign)
    blob_id(data)                 the git blob id of a file's bytes (what ``git ls-tree`` lists)
    tree_blobs(root)              {path: blob id} of the working tree's code files
    commit_blobs(commit, root)    the same at a commit, from git
    commit_fingerprint(commit)    the code fingerprint (empirical.provenance) of the code at a commit, from git
    changed_files(old, new)       paths added, removed or changed between two {path: blob id} maps
    write_manifest(commit)        results/code/<commit>.json: {path: blob id} at a commit, for clones without history

Rules of the closure (each stated where a plain "follow every import" would make every result depend on every
file, and why that edge cannot change a result):

* **Registration packages.** ``verify.claims`` imports every claim module so that they register themselves;
  importing it (the registry's and the fuzz engine's loaders do) is registration, not computation. A result's
  closure starts from its own claim module instead. Guarded by tests: the package's ``__init__`` holds only those
  imports, and no module's top level runs anything but ``register`` / ``register_fuzz`` calls.
* **Parent packages.** Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``: they are in the closure, but
  their imports of their own submodules (re-exports) are followed only when the package itself is imported for a
  name (``from memsep.theory import alpha`` follows ``theory/__init__`` entirely).
* **Lazy names.** A package ``__init__`` with a literal ``_LAZY = {name: submodule}`` (PEP 562) resolves
  ``from pkg import name`` to that submodule; no other dynamic import exists (guarded by a test).
* **Output-only edges.** ``verify.runner`` imports ``verify.report`` to write REPORT.md after every results file
  is written; REPORT.md is re-rendered from the results and compared in the tests, so the report's code is not a
  dependency of any result.

**What counts as a change.** A file in a result's closure whose bytes changed makes the result stale, except:

  * **Documentation.** Its code hash (``code_hashes``: the syntax tree without docstrings, so without comments and
    formatting either) is the same as at the result's commit. Nothing in a result's closure reads ``__doc__``
    (guarded by a test), so such an edit cannot change a result.
  * **Profile tables.** A claim module's ``CONFIGS = {"ci": ..., "quick": ...}`` (any top-level ``NAME = {...}``
    with NAME ending in ``CONFIGS`` and only string keys) holds every profile's sizes; a run reads exactly one entry,
    through ``Claim.config(profile)``, and records what it read in full (the results file's ``config``; the sampler
    check's ``config``). So an edit of the quick entry cannot change a standard result: the file is let pass when
    its rest hash (the code hash with every table's literal replaced by one placeholder) is the same and the
    configuration the result records equals the one resolved now (``config_unchanged``). Fuzz campaigns read no
    table, so for them only the first exception applies. A test guards the premise: outside the tables themselves,
    no code subscripts a table with a constant profile name.

The hashes of a commit's files are in its manifest (``code``, ``tables``, with the ``hash_version`` of their
canonical form); a manifest without them counts every change.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
import subprocess
from pathlib import Path

__all__ = [
    "CODE_DIRS",
    "REGISTRATION_PACKAGES",
    "OUTPUT_ONLY_EDGES",
    "module_files",
    "import_edges",
    "closure",
    "result_roots",
    "closure_paths",
    "blob_id",
    "tree_blobs",
    "commit_blobs",
    "commit_fingerprint",
    "changed_files",
    "profile_tables",
    "code_hashes",
    "tree_hashes",
    "commit_hashes",
    "config_unchanged",
    "stale_paths",
    "result_stale_paths",
    "manifest_path",
    "write_manifest",
]

CODE_DIRS = ("theory", "empirical", "verify")
NAMESPACE = "memsep"  # folder theory/ is the package memsep.theory (pyproject.toml)
REGISTRATION_PACKAGES = frozenset({"memsep.verify.claims"})
OUTPUT_ONLY_EDGES = frozenset({("memsep.verify.runner", "memsep.verify.report")})
ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([NAMESPACE, *parts])


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """{dotted module name (memsep.theory.forward): path} of every .py file under theory/, empirical/ and verify/ of
    ``root``."""
    root = Path(root)
    return {_module_name(p, root): p for d in CODE_DIRS for p in sorted((root / d).rglob("*.py"))}


@functools.cache
def _parse(path: Path, mtime_ns: int) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _tree(path: Path) -> ast.Module:
    return _parse(path, path.stat().st_mtime_ns)


def _is_package(name: str, files: dict[str, Path]) -> bool:
    return name in files and files[name].name == "__init__.py"


def _lazy_map(name: str, files: dict[str, Path]) -> dict[str, str]:
    """A package's literal ``_LAZY = {attribute: submodule}``, as {attribute: dotted module}."""
    for node in _tree(files[name]).body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Dict)
            and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets)
        ):
            return {
                k.value: f"{name}.{v.value}"
                for k, v in zip(node.value.keys, node.value.values)
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
            }
    return {}


def import_edges(name: str, files: dict[str, Path]) -> list[tuple[str, str]]:
    """[(module, how)] for every import of one of our modules in ``name`` (anywhere in the file); how is "full"
    (the module's names are used) or "parent" (only run as the package of an imported submodule)."""
    out: list[tuple[str, str]] = []
    package = name.split(".") if _is_package(name, files) else name.split(".")[:-1]
    for node in ast.walk(_tree(files[name])):
        if isinstance(node, ast.Import):
            out += [(a.name, "full") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package[: len(package) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for a in node.names:
                sub = f"{base}.{a.name}"
                lazy = _lazy_map(base, files) if _is_package(base, files) else {}
                if sub in files:
                    out += [(sub, "full"), (base, "parent")]
                elif a.name in lazy:
                    out += [(lazy[a.name], "full"), (base, "parent")]
                else:
                    out.append((base, "full"))
    return [
        (m, how) for m, how in out if m.split(".")[:1] == [NAMESPACE] and m.split(".")[1:2] in ([d] for d in CODE_DIRS)
    ]


def closure(roots, files: dict[str, Path]) -> set[str]:
    """Every module of ours reachable from ``roots`` (dotted names) by the rules in the module docstring."""
    mode: dict[str, str] = {}
    stack = [(r, "full") for r in roots]
    while stack:
        name, how = stack.pop()
        if name not in files or mode.get(name) == "full" or mode.get(name) == how:
            continue
        mode[name] = how
        parts = name.split(".")
        stack += [(".".join(parts[:i]), "parent") for i in range(1, len(parts))]
        for target, h in import_edges(name, files):
            if (name, target) in OUTPUT_ONLY_EDGES or target in REGISTRATION_PACKAGES and target != name:
                continue
            if how == "parent" and target.startswith(name + "."):
                continue  # a parent package's re-exports of its own submodules
            stack.append((target, h))
        if how == "full" and _is_package(name, files):
            stack += [(m, "full") for m in _lazy_map(name, files).values()]
    return set(mode)


def result_roots(claim_id: str, kind: str = "run") -> list[str]:
    """Where the computation of a claim's results starts: "run" (a ``memsep run`` results file, main or replicate)
    or "fuzz" (a fuzz campaign)."""
    if kind not in ("run", "fuzz"):
        raise ValueError(f"kind: must be 'run' or 'fuzz', got {kind!r}")
    return [
        f"{NAMESPACE}.verify.claims.{claim_id.lower()}",
        f"{NAMESPACE}.verify.runner" if kind == "run" else f"{NAMESPACE}.verify.fuzz",
    ]


def closure_paths(claim_id: str, kind: str = "run", root: Path = ROOT) -> set[str]:
    """The repository-relative paths (posix) of the files a claim's results depend on."""
    root = Path(root)
    files = module_files(root)
    missing = [r for r in result_roots(claim_id, kind) if r not in files]
    if missing:
        raise ValueError(f"claim_id: no module {missing[0]} for claim {claim_id!r}")
    return {files[m].relative_to(root).as_posix() for m in closure(result_roots(claim_id, kind), files)}


SAMPLER_CHECK_ROOTS = (f"{NAMESPACE}.verify.sampler_check",)


def sampler_check_paths(root: Path = ROOT) -> set[str]:
    """The files the samplers' convergence test (results/samplers/convergence.json) depends on: the closure of
    ``verify.sampler_check`` (which reaches the claims' settings it checks, A6's and the pruning claims')."""
    root = Path(root)
    files = module_files(root)
    return {files[m].relative_to(root).as_posix() for m in closure(list(SAMPLER_CHECK_ROOTS), files)}


def blob_id(data: bytes) -> str:
    """The git blob id (SHA-1 of ``b"blob <size>\\0" + data``) of a file's bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def tree_blobs(root: Path = ROOT) -> dict[str, str]:
    """{repository-relative path: git blob id} of every .py file under theory/, empirical/ and verify/."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): blob_id(p.read_bytes()) for p in module_files(root).values()}


def commit_blobs(commit: str, root: Path = ROOT) -> dict[str, str] | None:
    """The same at ``commit``, from ``git ls-tree``; None where git or the commit is not available."""
    try:
        out = subprocess.run(
            ["git", "ls-tree", "-r", commit, "--", *CODE_DIRS], cwd=root, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    blobs = {}
    for line in out.stdout.splitlines():
        meta, path = line.split("\t", 1)
        if path.endswith(".py") and meta.split()[1] == "blob":
            blobs[path] = meta.split()[2]
    return blobs


def commit_fingerprint(commit: str, root: Path = ROOT) -> str | None:
    """``empirical.provenance.code_fingerprint()`` of the code at ``commit`` (same files, order and hashing), from
    git's objects; None where git or the commit is not available."""
    blobs = commit_blobs(commit, root)
    if blobs is None:
        return None
    root = Path(root)
    h = hashlib.sha256()
    for d in CODE_DIRS:
        for p in sorted(root / path for path in blobs if path.split("/", 1)[0] == d):
            rel = p.relative_to(root).as_posix()
            out = subprocess.run(["git", "cat-file", "blob", blobs[rel]], cwd=root, capture_output=True, timeout=30)
            if out.returncode != 0:
                return None
            h.update(rel.encode() + b"\0" + out.stdout + b"\0")
    return h.hexdigest()[:16]


def changed_files(old: dict[str, str], new: dict[str, str]) -> set[str]:
    """Paths added, removed or changed between two {path: blob id} maps."""
    return {p for p in old.keys() | new.keys() if old.get(p) != new.get(p)}


TABLE_SUFFIX = "CONFIGS"
HASH_VERSION = 1  # bump when code_hashes' canonical form changes; manifests record it


def profile_tables(tree: ast.Module) -> list[ast.Dict]:
    """The ``{...}`` literals of a module's profile tables: top-level ``NAME = {...}`` (or annotated) assignments with
    NAME ending in ``CONFIGS`` and every key a string constant."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        named = any(isinstance(t, ast.Name) and t.id.endswith(TABLE_SUFFIX) for t in targets)
        if (
            named
            and isinstance(value, ast.Dict)
            and value.keys
            and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in value.keys)
        ):
            out.append(value)
    return out


def _canonical(node) -> str:
    """A text form of a syntax tree that leaves out empty and None fields, so that it does not change between Python
    versions that only add optional fields (3.12's ``type_params``); no positions, no comments."""
    if isinstance(node, ast.AST):
        fields = []
        for f in node._fields:
            v = getattr(node, f, None)
            if v is None or (isinstance(v, list) and not v):
                continue
            fields.append(f"{f}={_canonical(v)}")
        return f"{type(node).__name__}({', '.join(fields)})"
    if isinstance(node, list):
        return "[" + ", ".join(_canonical(v) for v in node) + "]"
    return repr(node)


def _strip_docstrings(tree: ast.Module) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = node.body[1:]


def code_hashes(source: str) -> tuple[str | None, str | None]:
    """(code, rest) of a module's source, SHA-256 of its canonical syntax tree (module docstring, "What counts as a
    change"): ``code`` without docstrings, comments and formatting; ``rest`` the same with every profile table's
    literal replaced by one placeholder, None where the module has no profile table. (None, None) where the source
    does not parse: then only its bytes count."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None, None
    _strip_docstrings(tree)
    code = hashlib.sha256(_canonical(tree).encode("utf-8")).hexdigest()
    tables = profile_tables(tree)
    if not tables:
        return code, None
    ids = {id(t) for t in tables}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and id(node.value) in ids:
            node.value = ast.Constant("<profile table>")
    return code, hashlib.sha256(_canonical(tree).encode("utf-8")).hexdigest()


def _hash_maps(sources: dict[str, str]) -> dict:
    code, tables = {}, {}
    for path, text in sorted(sources.items()):
        c, r = code_hashes(text)
        if c is not None:
            code[path] = c
        if r is not None:
            tables[path] = r
    return {"hash_version": HASH_VERSION, "code": code, "tables": tables}


def tree_hashes(root: Path = ROOT) -> dict:
    """{"hash_version", "code": {path: code hash}, "tables": {path: rest hash}} (``code_hashes``) of the working
    tree's code files."""
    root = Path(root)
    return _hash_maps(
        {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in module_files(root).values()}
    )


def commit_hashes(commit: str, root: Path = ROOT) -> dict | None:
    """The same at ``commit``, from git's objects; None where git or the commit is not available."""
    blobs = commit_blobs(commit, root)
    if blobs is None:
        return None
    sources = {}
    for path, blob in blobs.items():
        got = subprocess.run(["git", "cat-file", "blob", blob], cwd=root, capture_output=True, timeout=30)
        if got.returncode != 0:
            return None
        sources[path] = got.stdout.decode("utf-8")
    return _hash_maps(sources)


def _as_json(value):
    import json

    return json.loads(json.dumps(value))


def config_unchanged(kind: str, record: dict) -> bool:
    """Whether the configuration a record holds is the one its computation resolves now: for a results file
    (``kind`` "run"), its claim's ``config(profile)``; for the samplers' convergence record ("check"),
    ``verify.sampler_check.config(profile, run_seed)``. Fuzz campaigns ("fuzz") and records without a configuration
    or profile: False (every change of a file counts)."""
    if kind not in ("run", "check", "fuzz"):
        raise ValueError(f"kind: must be 'run', 'check' or 'fuzz', got {kind!r}")
    if kind == "fuzz" or "config" not in record or not record.get("profile"):
        return False
    try:
        if kind == "run":
            from .registry import get_claims
            from .runner import _config_dict

            (claim,) = get_claims([record["claim"]["id"]])
            now = _config_dict(claim.config(record["profile"]))
        else:
            from .sampler_check import config

            now = config(record["profile"], record.get("run_seed", 0)).to_dict()
    except (KeyError, ValueError):
        return False
    return _as_json(now) == _as_json(record["config"])


def stale_paths(paths: set[str], old: dict, head: dict, same_config: bool) -> list[str]:
    """The files among ``paths`` (a result's closure) that make the result stale. ``old`` is the manifest of the
    result's commit and ``head`` the working tree's, each {"files": {path: blob id}, "hash_version", "code",
    "tables"} (``tree_blobs`` and ``tree_hashes``). A file whose bytes changed is let pass when its code hash is the
    same (only docstrings, comments or formatting changed) or, with ``same_config``, its rest hash (only its profile
    tables changed, and the result's recorded config is the one resolved now). Hashes are compared only where both
    sides were made by the same ``HASH_VERSION``; manifests without them count every change."""
    hit = paths & changed_files(old["files"], head["files"])
    if old.get("hash_version") != head.get("hash_version"):
        return sorted(hit)

    def same(kind: str, p: str) -> bool:
        a, b = old.get(kind, {}).get(p), head.get(kind, {}).get(p)
        return a is not None and a == b

    return sorted(p for p in hit if not (same("code", p) or (same_config and same("tables", p))))


def result_stale_paths(paths: set[str], kind: str, record: dict, old: dict, head: dict) -> list[str]:
    """``stale_paths`` for one record (``kind`` as ``config_unchanged``): its recorded config is compared with the
    one resolved now only where some file of ``paths`` changed at all."""
    if not paths & changed_files(old["files"], head["files"]):
        return []
    return stale_paths(paths, old, head, config_unchanged(kind, record))


MANIFEST_DIR = Path("results") / "code"


def manifest_path(commit: str, root: Path = ROOT) -> Path:
    """results/code/<commit>.json: the blob ids of the code files at a commit that committed results come from
    (read by the tests where the clone has no history)."""
    return Path(root) / MANIFEST_DIR / f"{commit}.json"


def write_manifest(commit: str, root: Path = ROOT) -> Path:
    """Write results/code/<commit>.json from git; ValueError where git does not know the commit."""
    import json

    blobs = commit_blobs(commit, root)
    if blobs is None:
        raise ValueError(f"commit: git has no commit {commit!r} here")
    full = subprocess.run(
        ["git", "rev-parse", "--verify", f"{commit}^{{commit}}"], cwd=root, capture_output=True, text=True
    )
    if full.returncode != 0:
        raise ValueError(f"commit: git has no commit {commit!r} here")
    commit = full.stdout.strip()  # manifests are named by the full id results record
    path = manifest_path(commit, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    hashes = commit_hashes(commit, root)
    if hashes is None:
        raise ValueError(f"commit: git cannot read the files of commit {commit!r} here")
    path.write_text(
        json.dumps({"commit": commit, "files": dict(sorted(blobs.items())), **hashes}, indent=1) + "\n",
        encoding="utf-8",
    )
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m memsep.verify.codedeps [COMMIT ...]``: write the manifests of the given commits (default: every
    commit that a committed results file, replicate or fuzz campaign records), then print which claims' results are
    current (no file in their closure changed since their commit)."""
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in args):
        print(main.__doc__.split(":", 1)[0].strip("` ") + "\n\n" + " ".join(main.__doc__.split(":", 1)[1].split()))
        return 0
    bad = [a for a in args if a.startswith("-") or not re.fullmatch(r"[0-9a-fA-F]{4,40}|HEAD(~\d+)?", a)]
    if bad:
        print(f"codedeps: COMMIT: expected commit ids, got {', '.join(bad)}", file=sys.stderr)
        return 2
    records = _committed_records(ROOT)
    commits = args or sorted({r["environment"]["git_commit"] for _, r in records})
    for c in commits:
        print(f"wrote {write_manifest(c).relative_to(ROOT)}")
    head = {"files": tree_blobs(ROOT), **tree_hashes(ROOT)}

    def verdict(paths: set[str], kind: str, r: dict) -> str:
        manifest = json.loads(manifest_path(r["environment"]["git_commit"]).read_text(encoding="utf-8"))
        stale = result_stale_paths(paths, kind, r, manifest, head)
        return "current" if not stale else "STALE: " + ", ".join(stale)

    for kind, r in records:
        c = r["environment"]["git_commit"]
        cid = r["claim"]["id"]
        print(f"{kind:4} {cid:3} {r.get('profile') or '':8} {c[:7]} {verdict(closure_paths(cid, kind), kind, r)}")
    check = ROOT / "results" / "samplers" / "convergence.json"
    if check.is_file():
        r = json.loads(check.read_text(encoding="utf-8"))
        c = r["environment"]["git_commit"]
        if not manifest_path(c).is_file():
            print(f"wrote {write_manifest(c).relative_to(ROOT)}")
        print(f"sampler-check {c[:7]} {verdict(sampler_check_paths(ROOT), 'check', r)}")
    return 0


def _committed_records(root: Path) -> list[tuple[str, dict]]:
    """(kind, record) of every results file, replicate and fuzz campaign under ``root``."""
    import json

    paths = [("run", p) for p in sorted((root / "results").glob("*.json"))]
    paths += [("run", p) for p in sorted((root / "replicates").glob("*/seed-*/results/*.json"))]
    paths += [("fuzz", p) for p in sorted((root / "results" / "fuzz").glob("*.json"))]
    return [(kind, json.loads(p.read_text(encoding="utf-8"))) for kind, p in paths]


if __name__ == "__main__":
    raise SystemExit(main())
