"""`memsep dit train | prune | sample | evaluate`: a tiny end-to-end chain in a temporary folder."""

from __future__ import annotations

import json

import numpy as np

from verify.cli import main


def test_dit_pipeline_end_to_end(tmp_path, capsys):
    orig, pruned = tmp_path / "orig", tmp_path / "pruned"
    assert main(["dit", "train", "--run", str(orig), "--preset", "dit-mini", "--n", "8", "--steps", "20",
                 "--batch", "16", "--checkpoint-every", "10", "--device", "cpu", "--no-progress"]) == 0
    cfg = json.loads((orig / "config.json").read_text())
    assert len(cfg["indices"]) == 8 and cfg["train"]["steps"] == 20 and (orig / "checkpoint.pt").is_file()
    lines = [json.loads(s) for s in (orig / "metrics.jsonl").read_text().splitlines()]
    assert [r["event"] for r in lines] == ["train"] * len(lines) and lines[-1]["step"] == 20
    assert main(["dit", "prune", "--run", str(pruned), "--from", str(orig), "--eta", "0.25", "--finetune-steps", "5",
                 "--importance-batches", "2", "--device", "cpu", "--no-progress"]) == 0
    events = [json.loads(s)["event"] for s in (pruned / "metrics.jsonl").read_text().splitlines()]
    assert events[:2] == ["importance", "pruned"] and "finetune" in events
    assert main(["dit", "sample", "--run", str(pruned), "--samples", "6", "--steps", "5", "--device", "cpu",
                 "--no-progress"]) == 0
    assert np.load(pruned / "samples.npy").shape == (6, 1, 8, 8)
    assert main(["dit", "evaluate", "--run", str(pruned), "--features", "pixels"]) == 0
    ev = json.loads((pruned / "evaluation.json").read_text())
    assert 0 <= ev["memorization"] <= 1 and ev["fd"] >= 0 and ev["samples"] == 6


def test_dit_dry_run_and_bad_input(tmp_path, capsys):
    assert main(["dit", "train", "--run", str(tmp_path / "r"), "--steps", "7", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["train"]["steps"] == 7
    assert not (tmp_path / "r").exists()
    assert main(["dit", "prune", "--run", str(tmp_path / "p"), "--from", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("memsep: error: from:") and err.count("\n") == 1
    assert main(["dit", "train", "--run", str(tmp_path / "c"), "--dataset", "cifar10"]) == 2
    assert "needs --data" in capsys.readouterr().err
    try:
        main(["dit", "train", "--run", str(tmp_path / "x"), "--steps", "0"])
    except SystemExit as exc:
        assert exc.code == 2
