"""Run directories and output folders made by someone else, or left by a crash (issue 11).

Contract (verify/dit_cli.py, verify/runner.py, empirical/fileio.py):
  1. no file memsep reads can run code: every one is loaded as data (weights-only torch loads, numpy
     without pickles, JSON checked field by field, CIFAR through a restricted unpickler);
  2. no command replaces a trained model or a result it did not just compute, unless told to
     (``--resume`` / ``--overwrite``); ``prune --run X --from X`` is always refused;
  3. a refused command writes nothing;
  4. a bad file is one line on stderr naming it, exit 2 (never a traceback, never exit 1, which
     means NOT CONFIRMED);
  5. files are written atomically with the mode ``open(path, "w")`` would give (the umask applies);
  6. a failed write (full disk) or a bad output folder never replaces a previous result;
  7. the memorization rule gives the right answer or raises, never a silent wrong one;
  8. error messages name the parameter or the file.

The malicious files carry a pickle whose unpickling would create a marker file; each test asserts
that the marker does not exist afterwards.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from memsep import empirical, verify
from memsep.empirical.fileio import BadFileError, atomic_write_json, load_npy, load_torch, read_json
from memsep.verify.cli import main
from memsep.verify.registry import Findings

REPO = Path(__file__).resolve().parent.parent


def train_args(**override) -> list[str]:
    """Flags of a tiny `dit train` (a second to run); ``steps=30`` etc. override one."""
    flags = {"preset": "dit-mini", "n": 8, "steps": 20, "batch": 8, "checkpoint_every": 10, "device": "cpu", **override}
    return [a for k, v in flags.items() for a in (f"--{k.replace('_', '-')}", str(v))] + ["--no-progress"]


TRAIN = train_args()


class Payload:
    """Unpickling this object runs ``touch MARKER`` (what an attacker's checkpoint would do)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def digest(folder: Path) -> dict[str, str]:
    """{relative path: sha1 of content + mode} of every file under ``folder`` (to prove nothing changed)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(folder))] = hashlib.sha1(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
    return out


def error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got:\n{err}"
    assert lines[0].startswith("memsep: error: ") and "Traceback" not in err, err
    return lines[0]


def refused(capsys, argv: list[str], *needles: str) -> str:
    """main(argv) exits 2 with one stderr line containing every needle; returns the line."""
    assert main(argv) == 2
    line = error_line(capsys.readouterr().err)
    for n in needles:
        assert n in line, f"{n!r} not in {line!r}"
    return line


def memsep_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "memsep.verify", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _prune(run, source, *extra, eta: str = "0.25", steps: str = "4") -> list[str]:
    """argv of the tiny ``dit prune`` these tests run (2 importance batches, on the CPU)."""
    return ["dit", "prune", "--run", str(run), "--from", str(source), "--eta", eta, "--finetune-steps", steps,
            "--importance-batches", "2", "--device", "cpu", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished tiny training run, a pruned run from it and samples of the pruned one (copied by each test)."""
    root = tmp_path_factory.mktemp("runs")
    assert main(["dit", "train", "--run", str(root / "orig"), *TRAIN]) == 0
    assert main(_prune(root / "pruned", root / "orig", "--no-progress")) == 0
    assert (
        main(
            [
                "dit",
                "sample",
                "--run",
                str(root / "pruned"),
                "--samples",
                "6",
                "--steps",
                "4",
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )
    return root


@pytest.fixture
def runs(trained, tmp_path) -> Path:
    shutil.copytree(trained, tmp_path / "runs")
    return tmp_path / "runs"


# ---- 1. no code execution from any file memsep reads ------------------------------------------------------------


def _malicious_torch(path: Path, marker: Path) -> None:
    torch.save({"config": Payload(marker), "state": {}}, path)


def test_malicious_checkpoint_with_resume_is_refused_in_a_real_process(runs, tmp_path):
    """The issue's reproduction, through the installed command line: exit 2, one line, no side effect."""
    marker = tmp_path / "PWNED"
    _malicious_torch(runs / "orig" / "checkpoint.pt", marker)
    before = digest(runs / "orig")
    proc = memsep_cli("dit", "train", "--run", str(runs / "orig"), *TRAIN, "--resume", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "checkpoint.pt" in error_line(proc.stderr) and "refused" in proc.stderr
    assert not marker.exists()
    assert digest(runs / "orig") == before  # config.json was not rewritten either


@pytest.mark.parametrize("where", ["sample", "prune-from", "evaluate-samples", "config", "prune-resume"])
def test_malicious_files_in_a_run_directory_are_refused(runs, tmp_path, capsys, where):
    marker = tmp_path / "PWNED"
    orig, pruned = runs / "orig", runs / "pruned"
    if where == "sample":
        _malicious_torch(pruned / "model.pt", marker)
        argv, name = ["dit", "sample", "--run", str(pruned), "--overwrite", "--device", "cpu"], "model.pt"
    elif where == "prune-from":
        _malicious_torch(orig / "model.pt", marker)
        argv, name = ["dit", "prune", "--run", str(runs / "p2"), "--from", str(orig), "--device", "cpu"], "model.pt"
    elif where == "evaluate-samples":
        np.save(pruned / "samples.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
        argv, name = ["dit", "evaluate", "--run", str(pruned), "--features", "pixels"], "samples.npy"
    elif where == "config":
        (pruned / "config.json").write_bytes(pickle.dumps(Payload(marker)))
        argv, name = ["dit", "sample", "--run", str(pruned), "--overwrite", "--device", "cpu"], "config.json"
    else:
        _malicious_torch(pruned / "checkpoint.pt", marker)
        argv = _prune(pruned, orig, "--resume")
        name = "checkpoint.pt"
    before = digest(runs)
    refused(capsys, argv, name)
    assert not marker.exists()
    assert digest(runs) == before


def _stage_paths(out: Path):
    """(sweep folder, original point, its key) of the M1-M4 experiment at profile ci, run seed 0."""
    from memsep.empirical.prune_experiment import original_point
    from memsep.empirical.sweep import record_key
    from memsep.theory import derive_seed
    from memsep.verify.claims._pruning import CONFIGS, SWEEP_OWNER

    seed = int(derive_seed(0, "shared", SWEEP_OWNER)) % 2**62
    point = original_point(CONFIGS["ci"].setting, seed)
    return out / "results" / "sweeps" / SWEEP_OWNER / "ci" / "stages", point, record_key(point)


@pytest.mark.parametrize("kind", ["checkpoint", "weights"])
def test_malicious_sweep_stage_files_are_refused_by_memsep_run(tmp_path, capsys, kind):
    """memsep run resumes the pruning stages from results/sweeps/pruning/<profile>/stages: a planted .ckpt (the
    original's training checkpoint) or .pt (its weights, read by the pruned stages) must not run code."""
    marker = tmp_path / "PWNED"
    out = tmp_path / "out"
    folder, point, key = _stage_paths(out)
    folder.mkdir(parents=True)
    if kind == "checkpoint":
        _malicious_torch(folder / f"{key}.ckpt", marker)
        name = f"{key}.ckpt"
    else:  # the original's record is there, so the pruned stage loads its weights
        atomic_write_json(folder / f"{key}.json", {"point": point, "result": {}, "seconds": 0.0})
        _malicious_torch(folder / f"{key}.pt", marker)
        name = f"{key}.pt"
    (out / "results" / "M1.json").write_text("previous\n")
    refused(
        capsys,
        ["run", "--claims", "M1", "--profile", "ci", "--out", str(out), "--no-progress", "--device", "cpu"],
        "[M1]",
        name,
        "refused",
    )
    assert not marker.exists()
    assert (out / "results" / "M1.json").read_text() == "previous\n"  # no ERROR record replaced it


def test_malicious_results_file_is_refused_by_report(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "S1.json").write_bytes(pickle.dumps(Payload(marker)))
    refused(capsys, ["report", "--out", str(tmp_path)], "S1.json")
    assert not marker.exists() and not (tmp_path / "REPORT.md").exists()


def test_malicious_cifar_folder_is_refused(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": Payload(marker), b"labels": [0]}, protocol=2))
    refused(
        capsys,
        [
            "dit",
            "train",
            "--run",
            str(tmp_path / "r"),
            "--dataset",
            "cifar10",
            "--data",
            str(folder),
            "--n",
            "2",
            "--steps",
            "1",
            "--device",
            "cpu",
        ],
        "data_batch_1",
        "refusing",
    )
    assert not marker.exists() and not (tmp_path / "r").exists()


@pytest.mark.parametrize("loader", ["torch", "npy", "json"])
def test_library_loaders_never_unpickle_objects(tmp_path, loader):
    marker = tmp_path / "PWNED"
    path = tmp_path / "f"
    if loader == "torch":
        torch.save([Payload(marker)], path)
        with pytest.raises(BadFileError, match="refused"):
            load_torch(path)
    elif loader == "npy":
        np.save(path, np.array([Payload(marker)], dtype=object), allow_pickle=True)
        with pytest.raises(BadFileError, match="refused"):
            load_npy(path.with_suffix(".npy"))
    else:
        path.write_bytes(pickle.dumps(Payload(marker)))
        with pytest.raises(BadFileError, match="not UTF-8|invalid JSON"):
            read_json(path)
    assert not marker.exists()


def test_no_unsafe_loads_anywhere_in_the_package():
    """Every torch.load is weights-only (through empirical.fileio), every np.load refuses pickles, and the only
    pickle.Unpickler is the restricted CIFAR reader: grep the sources, as the issue asks."""
    sources = {p: p.read_text() for d in ("theory", "empirical", "verify") for p in (REPO / d).rglob("*.py")}
    for path, text in sources.items():
        rel = path.relative_to(REPO).as_posix()
        assert "weights_only=" + "False" not in text, rel  # (joined at run time, so that no grep matches this file)
        assert "allow_pickle=True" not in text, rel
        assert "pickle.load(" not in text and "pickle.loads(" not in text, rel
        if "torch.load(" in text:
            assert rel == "empirical/fileio.py" and "weights_only=True" in text, rel
        if "np.load(" in text:
            assert rel == "empirical/fileio.py" and "allow_pickle=False" in text, rel
        if "Unpickler" in text:
            assert rel == "empirical/datasets.py", rel


# ---- 2, 3. nothing destroyed; a refused command writes nothing ------------------------------------------------


@pytest.mark.parametrize("run, source", [("orig", "orig"), ("orig/", "orig"), ("orig/../orig", "./orig")])
def test_prune_into_its_own_source_is_always_refused(runs, capsys, run, source, monkeypatch):
    monkeypatch.chdir(runs)
    before = digest(runs)
    for extra in ([], ["--overwrite"], ["--resume"]):
        refused(
            capsys,
            ["dit", "prune", "--run", run, "--from", source, "--eta", "0.2", "--device", "cpu", *extra],
            "must differ from --from",
        )
    assert digest(runs) == before


def test_train_on_a_finished_run_is_refused_without_a_flag(runs, capsys):
    before = digest(runs)
    line = refused(
        capsys,
        ["dit", "train", "--run", str(runs / "orig"), *TRAIN],
        "already holds",
        "model.pt",
        "--resume",
        "--overwrite",
    )
    assert "config.json" in line
    refused(
        capsys,
        ["dit", "prune", "--run", str(runs / "pruned"), "--from", str(runs / "orig"), "--device", "cpu"],
        "already holds",
        "--overwrite",
    )
    refused(capsys, ["dit", "sample", "--run", str(runs / "pruned"), "--device", "cpu"], "samples.npy", "--overwrite")
    assert digest(runs) == before


def test_overwrite_replaces_the_run_and_drops_its_stale_outputs(runs, capsys):
    pruned = runs / "pruned"
    (pruned / "evaluation.json").write_text("{}")
    assert main(_prune(pruned, runs / "orig", "--no-progress", "--overwrite")) == 0
    assert not (pruned / "samples.npy").exists() and not (pruned / "evaluation.json").exists()
    events = [json.loads(s)["event"] for s in (pruned / "metrics.jsonl").read_text().splitlines()]
    assert events.count("pruned") == 1 and events.count("sample") == 0  # one history, this command's


def test_sample_overwrite_drops_the_evaluation_of_the_old_samples(runs, capsys):
    pruned = runs / "pruned"
    assert main(["dit", "evaluate", "--run", str(pruned), "--features", "pixels"]) == 0
    assert "memsep: warning: 6 samples" in capsys.readouterr().err  # too few samples for FD: a warning line
    refused(capsys, ["dit", "evaluate", "--run", str(pruned), "--features", "pixels"], "evaluation.json", "--overwrite")
    assert (
        main(
            [
                "dit",
                "sample",
                "--run",
                str(pruned),
                "--samples",
                "5",
                "--steps",
                "3",
                "--seed",
                "1",
                "--device",
                "cpu",
                "--no-progress",
                "--overwrite",
            ]
        )
        == 0
    )
    assert not (pruned / "evaluation.json").exists() and np.load(pruned / "samples.npy").shape[0] == 5


def test_a_refused_resume_changes_nothing(runs, capsys):
    """Item 3: --resume with other settings used to rewrite config.json before the checkpoint was checked."""
    before = digest(runs)
    refused(
        capsys,
        ["dit", "train", "--run", str(runs / "orig"), *train_args(steps=30), "--resume"],
        "resume:",
        "checkpoint.pt",
        "steps",
    )
    refused(capsys, ["dit", "train", "--run", str(runs / "orig"), *train_args(lr=0.01), "--resume"], "lr")
    refused(capsys, ["dit", "train", "--run", str(runs / "orig"), *TRAIN, "--resume", "--overwrite"], "not both")
    (runs / "orig" / "checkpoint.pt").unlink()
    before = digest(runs)
    refused(
        capsys,
        ["dit", "train", "--run", str(runs / "orig"), *TRAIN, "--resume"],
        "no checkpoint.pt",
        "model.pt",
        "--overwrite",
    )
    assert digest(runs) == before


def test_resume_continues_and_keeps_one_loss_history(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["dit", "train", "--run", str(run), *TRAIN]) == 0
    first = (run / "metrics.jsonl").read_text()
    assert main(["dit", "train", "--run", str(run), *TRAIN, "--resume"]) == 0  # finished: nothing to add
    assert (run / "metrics.jsonl").read_text() == first
    steps = [json.loads(s)["step"] for s in first.splitlines()]
    assert steps == sorted(set(steps))


# ---- 4. corrupt files: one line naming the file, exit 2 ----------------------------------------------------------


def _truncate(p: Path):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


CORRUPT_TORCH = {
    "truncated": _truncate,
    "empty": lambda p: p.write_bytes(b""),
    "random-bytes": lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)),
    "a-list": lambda p: torch.save([1, 2], p),
    "no-state": lambda p: torch.save({"config": {}}, p),
}
CORRUPT_MODEL = {
    **CORRUPT_TORCH,
    "bad-config": lambda p: torch.save({"config": {"depth": "four"}, "state": {}}, p),
    "unknown-config-key": lambda p: torch.save({"config": {"colour": 1}, "state": {}}, p),
    "wrong-shapes": lambda p: torch.save(
        {**torch.load(p), "config": {**torch.load(p)["config"], "hidden": 32, "head_dim": 8}}, p
    ),
    "nan-weights": lambda p: torch.save(
        {**torch.load(p), "state": {k: v * float("nan") for k, v in torch.load(p)["state"].items()}}, p
    ),
    "huge-config": lambda p: torch.save(
        {**torch.load(p), "config": {**torch.load(p)["config"], "image_size": 2**20, "patch": 1}}, p
    ),
}


@pytest.mark.parametrize("corrupt", list(CORRUPT_MODEL), ids=list(CORRUPT_MODEL))
@pytest.mark.parametrize("command", ["sample", "prune-from"])
def test_corrupt_model_file(runs, capsys, corrupt, command):
    target = runs / ("pruned" if command == "sample" else "orig") / "model.pt"
    CORRUPT_MODEL[corrupt](target)
    before = digest(runs)
    argv = (
        ["dit", "sample", "--run", str(runs / "pruned"), "--overwrite", "--device", "cpu"]
        if command == "sample"
        else ["dit", "prune", "--run", str(runs / "p2"), "--from", str(runs / "orig"), "--device", "cpu"]
    )
    refused(capsys, argv, "model.pt")
    assert digest(runs) == before and not (runs / "p2").exists()


@pytest.mark.parametrize("corrupt", list(CORRUPT_TORCH), ids=list(CORRUPT_TORCH))
def test_corrupt_checkpoint_on_resume(runs, capsys, corrupt):
    CORRUPT_TORCH[corrupt](runs / "orig" / "checkpoint.pt")
    before = digest(runs)
    refused(capsys, ["dit", "train", "--run", str(runs / "orig"), *TRAIN, "--resume"], "checkpoint.pt")
    assert digest(runs) == before


CORRUPT_CONFIG = {
    "empty-object": ("{}", "missing command"),
    "array": ("[]", "a JSON object expected"),
    "invalid-json": ('{"command": ', "invalid JSON"),
    "missing-keys": ('{"command": "train", "dataset": "digits"}', "missing data, n, preset"),
    "unknown-dataset": (None, "dataset must be 'digits' or 'cifar10', got 'mnist'"),
    "bad-indices": (None, "indices must be n = 8 ints"),
    "edited-indices": (None, "records training indices"),
    "bad-train-config": (None, "train: lr"),
}


@pytest.mark.parametrize("corrupt", list(CORRUPT_CONFIG), ids=list(CORRUPT_CONFIG))
@pytest.mark.parametrize("command", ["prune-from", "evaluate"])
def test_corrupt_config_json(runs, capsys, corrupt, command):
    run = runs / ("orig" if command == "prune-from" else "pruned")
    text, problem = CORRUPT_CONFIG[corrupt]
    cfg = json.loads((run / "config.json").read_text())
    if corrupt == "unknown-dataset":
        cfg["dataset"] = "mnist"
    elif corrupt == "bad-indices":
        cfg["indices"] = cfg["indices"][:3]
    elif corrupt == "edited-indices":
        cfg["indices"] = [i + 1 for i in cfg["indices"]]
    elif corrupt == "bad-train-config":
        cfg["train" if command == "prune-from" else "finetune"]["lr"] = -1.0
        problem = problem if command == "prune-from" else "finetune: lr"
    (run / "config.json").write_text(text if text is not None else json.dumps(cfg))
    if command == "evaluate" and corrupt == "missing-keys":
        problem = "missing data, n, preset"
    before = digest(runs)
    argv = (
        ["dit", "prune", "--run", str(runs / "p2"), "--from", str(run), "--device", "cpu"]
        if command == "prune-from"
        else ["dit", "evaluate", "--run", str(run), "--features", "pixels"]
    )
    refused(capsys, argv, "config.json", problem)
    assert digest(runs) == before


CORRUPT_SAMPLES = {
    "random-bytes": (lambda p: p.write_bytes(b"\x93NUMPY garbage"), "is not an array of samples"),
    "wrong-shape": (lambda p: np.save(p, np.zeros((6, 3, 8, 8))), "shape (6, 3, 8, 8)"),
    "integers": (lambda p: np.save(p, np.zeros((6, 1, 8, 8), dtype=np.int64)), "int64"),
    "nan": (lambda p: np.save(p, np.full((6, 1, 8, 8), np.nan)), "non-finite"),
}


@pytest.mark.parametrize("corrupt", list(CORRUPT_SAMPLES), ids=list(CORRUPT_SAMPLES))
def test_corrupt_samples(runs, capsys, corrupt):
    make, problem = CORRUPT_SAMPLES[corrupt]
    make(runs / "pruned" / "samples.npy")
    refused(capsys, ["dit", "evaluate", "--run", str(runs / "pruned"), "--features", "pixels"], "samples.npy", problem)
    assert not (runs / "pruned" / "evaluation.json").exists()


def test_a_pruned_run_can_be_pruned_further(runs, capsys):
    """Item 4: a pruned run used as --from works (prunes its remaining heads)."""
    from memsep.empirical.dit import load_dit

    heads = sum(load_dit(runs / "pruned" / "model.pt").cfg.heads)
    assert main(_prune(runs / "p2", runs / "pruned", "--no-progress", eta="0.5", steps="2")) == 0
    assert sum(load_dit(runs / "p2" / "model.pt").cfg.heads) == heads - heads // 2
    cfg = json.loads((runs / "p2" / "config.json").read_text())
    assert (
        cfg["source"]["command"] == "prune"
        and cfg["indices"] == json.loads((runs / "orig" / "config.json").read_text())["indices"]
    )


# ---- 5. modes -----------------------------------------------------------------------------------------------------


@pytest.fixture
def umask():
    old = os.umask(0o022)

    def set_mask(mask):
        os.umask(mask)

    yield set_mask
    os.umask(old)


def _modes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_memsep_writes_respect_the_umask(tmp_path, capsys, temporary_claims, umask, mask, mode):
    umask(mask)
    run = tmp_path / "r"
    assert main(["dit", "train", "--run", str(run), *TRAIN]) == 0
    assert (
        main(["dit", "sample", "--run", str(run), "--samples", "4", "--steps", "2", "--device", "cpu", "--no-progress"])
        == 0
    )
    assert main(["dit", "evaluate", "--run", str(run), "--features", "pixels"]) == 0

    def check(ctx):
        from memsep.verify.io import figure

        path, rel = ctx.figure_path("plot")
        with figure(path, 1, (2, 2)) as ax:
            ax.plot([0, 1])
        f = Findings()
        f.figures.append(rel)
        f.check("fine", True, "")
        return f.result("fine", "none")

    temporary_claims("X11", check)
    out = tmp_path / "out"
    assert main(["run", "--claims", "X11", "--out", str(out), "--no-progress"]) == 0
    modes = {**_modes(run), **{f"out/{k}": v for k, v in _modes(out).items()}}
    assert set(modes) >= {
        "config.json",
        "metrics.jsonl",
        "checkpoint.pt",
        "model.pt",
        "samples.npy",
        "evaluation.json",
        "out/REPORT.md",
        "out/results/X11.json",
        "out/figures/X11_plot.png",
    }
    assert {k: oct(v) for k, v in modes.items() if v != mode} == {}


# ---- 6. failed writes and bad output folders never replace results ------------------------------------------------


def _figure_check(ctx):
    from memsep.verify.io import figure

    path, rel = ctx.figure_path("plot")
    with figure(path, 1, (2, 2)) as ax:
        ax.plot([0, 1, 0])
    f = Findings()
    f.figures.append(rel)
    f.check("holds", True, "")
    return f.result("holds", "none")


@pytest.mark.parametrize("fail_at", ["figure", "results"])
def test_a_full_disk_keeps_the_previous_results_and_figures(tmp_path, capsys, temporary_claims, monkeypatch, fail_at):
    temporary_claims("X12", _figure_check)
    out = tmp_path / "out"
    assert main(["run", "--claims", "X12", "--out", str(out), "--no-progress"]) == 0
    before = digest(out)
    real = empirical.fileio.atomic_open

    def full_disk(path, *a, **k):
        if (fail_at == "figure" and str(path).endswith(".png")) or (fail_at == "results" and "X12.json" in str(path)):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(empirical.fileio, "atomic_open", full_disk)
    monkeypatch.setattr(verify.io, "atomic_open", full_disk)
    capsys.readouterr()
    line = refused(
        capsys,
        ["run", "--claims", "X12", "--out", str(out), "--no-progress"],
        "[X12]",
        "No space left on device",
        "kept",
    )
    assert ("X12_plot.png" if fail_at == "figure" else "X12.json") in line
    assert digest(out) == before  # results, figure and report all as they were
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary or staging leftovers


def test_killing_memsep_run_mid_claim_keeps_the_previous_results(tmp_path):
    out = tmp_path / "out"
    proc = memsep_cli("run", "--claims", "A1", "--profile", "ci", "--out", str(out), "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    before = digest(out)
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "memsep.verify",
            "run",
            "--claims",
            "A1",
            "--profile",
            "ci",
            "--out",
            str(out),
            "--no-progress",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = p.stdout.readline()  # "[A1] ... ..." : the claim has started
    assert line.startswith("[A1]"), line
    time.sleep(0.5)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert digest(out) == before
    json.loads((out / "results" / "A1.json").read_text())
    assert main(["report", "--out", str(out)]) == 0


@pytest.mark.parametrize("command", ["run", "fuzz"])
def test_an_output_folder_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, command):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "sub"):
        argv = (
            ["run", "--claims", "S1", "--out", str(out), "--no-progress"]
            if command == "run"
            else ["fuzz", "S1", "--examples", "1", "--out", str(out), "--no-progress"]
        )
        t0 = time.perf_counter()
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert error_line(captured.err).startswith("memsep: error: out:") and str(blocker) in captured.err
        assert "[S1]" not in captured.out and time.perf_counter() - t0 < 5
    assert blocker.read_text() == "not a folder"


def test_check_writable_dir_reports_an_unwritable_folder(tmp_path, monkeypatch):
    real_open = open

    def no_write(path, *a, **k):
        if ".memsep-write-test" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", no_write)
    with pytest.raises(ValueError, match=r"^out: cannot write in .* \(Permission denied\)$"):
        empirical.fileio.check_writable_dir(tmp_path, "out")


# ---- 7. the memorization rule never answers silently wrong --------------------------------------------------------


@pytest.mark.parametrize("scale", [1.0, 1e160, 1e-170, 2.0**1000])
def test_memorization_is_scale_free_for_any_finite_data(scale):
    from memsep.empirical.metrics import memorization

    rng = np.random.default_rng(3)
    train = rng.normal(size=(30, 6))
    samples = np.concatenate([train[:8] + 1e-3 * rng.normal(size=(8, 6)), rng.normal(size=(24, 6))])
    ref = memorization(samples, train)
    got = memorization(samples * scale, train * scale)
    assert ref["count"] == 8 and got["count"] == 8
    assert np.array_equal(got["memorized"], ref["memorized"]) and np.array_equal(got["nn1"], ref["nn1"])
    np.testing.assert_allclose(got["distance_ratio"], ref["distance_ratio"], rtol=1e-12)


def test_nearest_two_raises_instead_of_returning_inf():
    from memsep.empirical.metrics import nearest_two

    rng = np.random.default_rng(4)
    x, p = rng.normal(size=(5, 3)), rng.normal(size=(7, 3))
    d1, d2, _ = nearest_two(x * 1e100, p * 1e100)  # 1e200: still finite, and exact up to scaling
    r1, r2, _ = nearest_two(x, p)
    np.testing.assert_allclose(d1 / 1e200, r1, rtol=1e-12)
    with pytest.raises(ValueError, match="squared distances overflow float64"):
        nearest_two(x * 1e160, p * 1e160)
    with pytest.raises(ValueError, match="samples: must be finite"):
        nearest_two(np.full((2, 3), np.inf), p)


def test_image_metrics_do_not_overflow_silently():
    from memsep.empirical.image_metrics import frechet_distance, precision_recall

    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(40, 4)), rng.normal(size=(40, 4)) + 0.5
    assert precision_recall(a * 1e160, b * 1e160) == precision_recall(a, b)
    np.testing.assert_allclose(frechet_distance(a * 1e100, b * 1e100) / 1e200, frechet_distance(a, b), rtol=1e-9)
    with pytest.raises(ValueError, match="overflows float64"):
        frechet_distance(a * 1e160, b * 1e160)


# ---- 8. messages name the parameter or the file ---------------------------------------------------------------------


def test_a_huge_seed_trains_like_any_other(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["dit", "train", "--run", str(run), *train_args(steps=2, seed=10**29)]) == 0
    assert json.loads((run / "config.json").read_text())["seed"] == 10**29
    assert (
        main(
            [
                "dit",
                "sample",
                "--run",
                str(run),
                "--samples",
                "2",
                "--steps",
                "2",
                "--seed",
                str(10**29),
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )


def test_dry_run_fails_where_the_run_would(runs, capsys):
    refused(capsys, ["dit", "train", "--run", str(runs / "x"), *train_args(preset="dit-huge"), "--dry-run"], "preset")
    refused(
        capsys, ["dit", "train", "--run", str(runs / "x"), *train_args(n=5000), "--dry-run"], "n: must be an int in"
    )
    refused(capsys, ["dit", "train", "--run", str(runs / "orig"), *TRAIN, "--dry-run"], "already holds")
    assert not (runs / "x").exists()


# ---- results files given to `memsep report` are checked field by field --------------------------------------------

MALFORMED_RESULTS = {
    "verdict-maybe": (lambda r: r["result"].update(verdict="MAYBE"), "result.verdict 'MAYBE' is not one of"),
    "tables-oops": (lambda r: r["result"].update(tables="oops"), "bad result.tables"),
    "table-row-not-a-list": (
        lambda r: r["result"].update(tables=[{"title": "t", "columns": ["a"], "rows": [1]}]),
        "bad result.tables",
    ),
    "figure-outside-figures": (lambda r: r["result"].update(figures=["../../secret.png"]), "bad result.figures"),
    "assertion-passed-text": (
        lambda r: r["result"].update(assertions=[{"name": "a", "passed": "yes", "detail": ""}]),
        "bad result.assertions",
    ),
    "seed-text": (lambda r: r.update(seed="0"), "bad seed"),
    "claim-id-number": (lambda r: r["claim"].update(id=1), "bad claim"),
    "runtime-negative": (lambda r: r.update(runtime_s=-1), "bad runtime_s"),
    "result-list": (lambda r: r.update(result=[]), "bad result"),
}


@pytest.mark.parametrize("case", list(MALFORMED_RESULTS), ids=list(MALFORMED_RESULTS))
def test_report_refuses_malformed_results_naming_file_and_field(tmp_path, capsys, temporary_claims, case):
    temporary_claims("X13", _figure_check)
    assert main(["run", "--claims", "X13", "--out", str(tmp_path), "--no-progress"]) == 0
    path = tmp_path / "results" / "X13.json"
    rec = json.loads(path.read_text())
    mutate, problem = MALFORMED_RESULTS[case]
    mutate(rec)
    path.write_text(json.dumps(rec))
    report = (tmp_path / "REPORT.md").read_text()
    capsys.readouterr()
    refused(capsys, ["report", "--out", str(tmp_path)], "X13.json", problem)
    assert (tmp_path / "REPORT.md").read_text() == report


def test_report_refuses_a_malformed_fuzz_campaign(tmp_path, capsys):
    (tmp_path / "results" / "fuzz").mkdir(parents=True)
    good = json.loads((REPO / "results" / "fuzz" / "S1.json").read_text())
    (tmp_path / "results" / "fuzz" / "S1.json").write_text(json.dumps({**good, "counterexample": "no"}))
    refused(capsys, ["report", "--out", str(tmp_path)], "S1.json", "bad counterexample")
    (tmp_path / "results" / "fuzz" / "S1.json").write_text(json.dumps(good))
    assert main(["report", "--out", str(tmp_path)]) == 0
