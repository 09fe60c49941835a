"""`memsep dit train | prune | sample | evaluate`: a tiny end-to-end chain in a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from memsep.verify.cli import main


def test_dit_pipeline_end_to_end(tmp_path, capsys):
    orig, pruned = tmp_path / "orig", tmp_path / "pruned"
    assert (
        main(
            [
                "dit",
                "train",
                "--run",
                str(orig),
                "--preset",
                "dit-mini",
                "--n",
                "8",
                "--steps",
                "20",
                "--batch",
                "16",
                "--checkpoint-every",
                "10",
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )
    cfg = json.loads((orig / "config.json").read_text())
    assert len(cfg["indices"]) == 8 and cfg["train"]["steps"] == 20 and (orig / "checkpoint.pt").is_file()
    lines = [json.loads(s) for s in (orig / "metrics.jsonl").read_text().splitlines()]
    assert [r["event"] for r in lines] == ["train"] * len(lines) and lines[-1]["step"] == 20
    assert len(lines) == 20  # a 20-step run logs every step
    # the learning rate of each logged step: a warm-up of 2 steps (a tenth of the run), then the constant rate
    assert [r["lr"] for r in lines[:3]] == pytest.approx([cfg["train"]["lr"] / 2] + [cfg["train"]["lr"]] * 2)
    assert len({r["invocation"] for r in lines}) == 1 and all(r["time_utc"].endswith("+00:00") for r in lines)
    assert (
        main(
            [
                "dit",
                "prune",
                "--run",
                str(pruned),
                "--from",
                str(orig),
                "--eta",
                "0.25",
                "--finetune-steps",
                "5",
                "--importance-batches",
                "2",
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )
    events = [json.loads(s)["event"] for s in (pruned / "metrics.jsonl").read_text().splitlines()]
    assert events[:2] == ["importance", "pruned"] and "finetune" in events
    assert (
        main(
            [
                "dit",
                "sample",
                "--run",
                str(pruned),
                "--samples",
                "6",
                "--steps",
                "5",
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )
    assert np.load(pruned / "samples.npy").shape == (6, 1, 8, 8)
    png = (pruned / "samples.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 200
    sample_event = [json.loads(s) for s in (pruned / "metrics.jsonl").read_text().splitlines()][-1]
    assert sample_event["event"] == "sample" and sample_event["wall_s"] >= 0
    assert main(["dit", "evaluate", "--run", str(pruned), "--features", "pixels"]) == 0
    ev = json.loads((pruned / "evaluation.json").read_text())
    assert 0 <= ev["memorization"] <= 1 and ev["fd"] >= 0 and ev["samples"] == 6
    assert ev["k"] == 3 and ev["reference_size"] == 1797 and ev["fd_extrapolated"]["sizes"][0] == 6
    assert "memsep: warning: 6 samples for 64 features" in capsys.readouterr().err


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


def test_write_grid_tiles_images_and_names_bad_input(tmp_path):
    import matplotlib.image as mpimg

    from memsep.verify.dit_cli import write_grid

    x = np.linspace(-1, 1, 10 * 64).reshape(10, 1, 8, 8)
    img = mpimg.imread(write_grid(tmp_path / "g.png", x, ncols=4))
    scale = 256 // 8
    assert img.shape[:2] == (3 * 9 * scale + scale, 4 * 9 * scale + scale)  # 3 rows of 4, 1-pixel grey borders
    with pytest.raises(ValueError, match="images: must have shape"):
        write_grid(tmp_path / "bad.png", np.zeros((2, 8, 8)))


@pytest.mark.parametrize(
    "argv, token",
    [
        (["--preset", "dit-huge"], "preset: unknown 'dit-huge'"),
        (["--n", "5000"], "n: must be an int in [2, 1797], got 5000"),
        (["--steps", "20", "--warmup", "20"], "warmup: must be below --steps = 20"),
    ],
)
def test_dit_train_dry_run_refuses_what_the_run_would(tmp_path, capsys, argv, token):
    """A dry run fails exactly where the run would (issue 15), writes nothing, and says why in one line."""
    for dry in (["--dry-run"], []):
        assert main(["dit", "train", "--run", str(tmp_path / "r"), *argv, *dry]) == 2
        err = capsys.readouterr().err
        assert token in err and err.count("\n") == 1, err
        assert not (tmp_path / "r").exists()


def test_short_dit_train_runs_scale_warmup_and_logging(tmp_path, capsys):
    """--steps 20 warms up 2 steps (not the default 100, which would keep the rate below 2e-4) and logs every step."""
    assert main(["dit", "train", "--run", str(tmp_path / "r"), "--steps", "20", "--dry-run"]) == 0
    train = json.loads(capsys.readouterr().out)["train"]
    assert (train["warmup"], train["log_every"]) == (2, 1)
    assert main(["dit", "train", "--run", str(tmp_path / "r"), "--dry-run"]) == 0  # the 6,000-step default
    train = json.loads(capsys.readouterr().out)["train"]
    assert (train["warmup"], train["log_every"]) == (100, 100)


# ---- evaluate: metrics with error bars, a cached classifier, TorchScript features (no DiT training) ---------------


def _messages(capsys) -> list[str]:
    """stderr lines other than evaluate's progress lines ("memsep dit evaluate: ...")."""
    return [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("memsep dit evaluate: ")]


def _fake_run(root, name="r", samples=None, n=8):
    """A run directory as `dit train` + `dit sample` leave it, made directly (evaluate reads only config.json and
    samples.npy): n digits, and ``samples`` (default: 40 noisy copies of digits) as its samples."""
    import dataclasses

    from memsep.empirical.datasets import load_digits, subset
    from memsep.empirical.diffusion import DiffusionConfig

    x, _ = load_digits()
    run = root / name
    run.mkdir(parents=True)
    cfg = {
        "command": "train",
        "dataset": "digits",
        "data": None,
        "n": n,
        "preset": "dit-mini",
        "seed": 0,
        "train": dataclasses.asdict(DiffusionConfig(steps=10, batch=8)),
        "indices": subset(len(x), n, 0).tolist(),
    }
    (run / "config.json").write_text(json.dumps(cfg))
    if samples is None:
        rng = np.random.default_rng(len(name))
        samples = np.clip(x[rng.choice(len(x), 40)] + 0.3 * rng.standard_normal((40, 1, 8, 8)), -1, 1)
    np.save(run / "samples.npy", np.asarray(samples, dtype=np.float32))
    return run


def test_evaluate_records_k_sizes_accuracy_and_extrapolated_fd(tmp_path, capsys, monkeypatch):
    import memsep.empirical.image_metrics as im

    a, b = _fake_run(tmp_path / "runs", "a"), _fake_run(tmp_path / "runs", "b")
    argv = ["--features", "classifier", "--classifier-steps", "5", "--k", "4"]
    assert main(["dit", "evaluate", "--run", str(a), *argv]) == 0
    err = capsys.readouterr().err.splitlines()
    # progress lines say what runs (the classifier's training first time), then one warning: 40 samples, 128 features
    progress = [ln for ln in err if ln.startswith("memsep dit evaluate: ")]
    assert len(progress) == 3 and "training it (5 steps" in progress[1]
    warn = [ln for ln in err if ln.startswith("memsep: warning: ")]
    assert len(warn) == 1 and warn[0].startswith("memsep: warning: 40 samples for 128 features")
    assert len(err) == 4
    ev = json.loads((a / "evaluation.json").read_text())
    # the nearest-neighbour grid: 32 samples, each above its nearest training image
    nb = ev["neighbours"]
    assert (a / nb["file"]).stat().st_size > 1000 and nb["shown"] == 32 and len(nb["memorized"]) == 32
    assert all(r >= 0 for r in nb["distance_ratio"])
    assert ev["k"] == 4 and ev["samples"] == 40 and ev["reference_size"] == 1797 and ev["feature_dim"] == 128
    assert 0 <= ev["classifier_accuracy"] <= 1 and ev["classifier"]["accuracy"] == ev["classifier_accuracy"]
    assert ev["classifier"]["seed"] == 0 and ev["classifier"]["steps"] == 5
    cache = tmp_path / "runs" / ".memsep-cache"
    assert [p.name for p in cache.iterdir()] == [Path(ev["classifier"]["cache"]).name]
    fx = ev["fd_extrapolated"]
    assert ev["fd"] == fx["values"][0] and fx["sizes"][0] == 40 and set(fx["sizes"]) == {40, 20, 10}
    assert isinstance(fx["fd_inf"], float) and fx["se"] >= 0 and fx["se_method"] == "ols-residuals"
    assert len(ev["warnings"]) == 1
    log = [json.loads(s) for s in (a / "metrics.jsonl").read_text().splitlines()]
    stamp = ("invocation", "time_utc", "wall_s")  # added to every metrics.jsonl event
    assert {k: v for k, v in log[-1].items() if k not in stamp} == ev and set(stamp) <= set(log[-1])

    # a second run next to it reuses the classifier: no training (same feature space for every arm)
    def no_training(*args, **kw):
        raise AssertionError("the classifier was trained again")

    monkeypatch.setattr(im, "train_classifier", no_training)
    assert main(["dit", "evaluate", "--run", str(b), *argv]) == 0
    assert "read from the cache" in capsys.readouterr().err
    evb = json.loads((b / "evaluation.json").read_text())
    assert evb["classifier"] == ev["classifier"] and len(list(cache.iterdir())) == 1
    # and so does --overwrite of the first: the same numbers
    assert main(["dit", "evaluate", "--run", str(a), *argv, "--overwrite"]) == 0
    assert json.loads((a / "evaluation.json").read_text()) == ev


def test_evaluate_refuses_a_corrupt_classifier_cache(tmp_path, capsys):
    run = _fake_run(tmp_path / "runs")
    argv = ["dit", "evaluate", "--run", str(run), "--classifier-steps", "2"]
    assert main([*argv, "--dry-run"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["classifier"] == {"seed": 0, "steps": 2, "cache": str((tmp_path / "runs" / ".memsep-cache").resolve())}
    assert plan["k"] == 3 and plan["reference_size"] == 1797 and not (tmp_path / "runs" / ".memsep-cache").exists()
    assert main(argv) == 0
    capsys.readouterr()
    (cache,) = (tmp_path / "runs" / ".memsep-cache").iterdir()
    cache.write_bytes(b"not a torch file")
    (run / "evaluation.json").unlink()
    (run / "neighbours.png").unlink()
    assert main(argv) == 2
    err = _messages(capsys)
    assert len(err) == 1 and err[0].startswith("memsep: error: ") and str(cache) in err[0]
    assert "feature-classifier cache" in err[0]
    assert not (run / "evaluation.json").exists() and cache.read_bytes() == b"not a torch file"
    assert not (run / "neighbours.png").exists()  # nothing is written by a failed evaluation


def test_evaluate_small_sample_warnings_and_refusals(tmp_path, capsys):
    from memsep.empirical.datasets import load_digits

    x, _ = load_digits()
    run = _fake_run(tmp_path / "runs", samples=x[:2])
    assert main(["dit", "evaluate", "--run", str(run), "--features", "pixels", "--k", "3"]) == 2
    assert "k: must be smaller than the number of samples (2)" in capsys.readouterr().err
    assert main(["dit", "evaluate", "--run", str(run), "--features", "pixels", "--k", "1"]) == 0
    err = _messages(capsys)
    assert len(err) == 2 and all(e.startswith("memsep: warning: ") for e in err)
    assert "2 samples for 64 features" in err[0] and "too few to extrapolate" in err[1]
    ev = json.loads((run / "evaluation.json").read_text())
    assert ev["fd_extrapolated"] is None and ev["fd"] >= 0 and ev["classifier_accuracy"] is None and ev["k"] == 1
    assert (
        main(
            [
                "dit",
                "evaluate",
                "--run",
                str(run),
                "--features",
                "pixels",
                "--k",
                "1",
                "--overwrite",
                "--feature-size",
                "-1",
            ]
        )
        == 2
    )
    assert "feature-size" in capsys.readouterr().err


def test_evaluate_with_a_torchscript_network(tmp_path, capsys):
    """The TorchScript path through the CLI: the stand-in asserts uint8, 3 channels, its input size."""
    import torch

    class StandIn(torch.nn.Module):
        def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            assert return_features and x.dtype == torch.uint8, "expected uint8 images and return_features=True"
            assert x.dim() == 4 and x.shape[1] == 3 and x.shape[2] == 16 and x.shape[3] == 16, "expected input size"
            f = x.float()
            return torch.stack([f.mean((1, 2, 3)), f.std((1, 2, 3)), f[:, 0, 0, 0], f[:, 1, 8, 8]], 1)

    net = tmp_path / "standin.pt"
    torch.jit.script(StandIn()).save(str(net))
    run = _fake_run(tmp_path / "runs")
    assert main(["dit", "evaluate", "--run", str(run), "--features", str(net), "--feature-size", "16"]) == 0
    ev = json.loads((run / "evaluation.json").read_text())
    assert ev["feature_dim"] == 4 and ev["classifier"] is None and ev["fd_extrapolated"]["sizes"][0] == 40
    assert _messages(capsys) == []  # 40 samples >= 2 x 4 features: no warning
    # without the resize the network's own check refuses, in one line
    assert (
        main(["dit", "evaluate", "--run", str(run), "--features", str(net), "--feature-size", "0", "--overwrite"]) == 2
    )
    err = _messages(capsys)
    assert len(err) == 1 and "failed on a uint8 batch" in err[0] and "input size" in err[0]


def test_evaluate_warns_when_the_extrapolation_subsets_are_small(tmp_path, capsys):
    """160 samples, 64 pixel features: FD itself has enough (>= 128), its quarter subsets (40) do not."""
    from memsep.empirical.datasets import load_digits

    x, _ = load_digits()
    run = _fake_run(tmp_path / "runs", samples=x[100:260])
    assert main(["dit", "evaluate", "--run", str(run), "--features", "pixels"]) == 0
    err = _messages(capsys)
    assert len(err) == 1 and "smallest subset (40 samples) is below twice the feature dimension (128)" in err[0]
    ev = json.loads((run / "evaluation.json").read_text())
    assert ev["warnings"] == [err[0].removeprefix("memsep: warning: ")]
    assert set(ev["fd_extrapolated"]["sizes"]) == {160, 80, 40}
