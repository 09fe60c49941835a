"""DiT, head pruning (Algorithms 1-2) and image data sets (M1): exact invariants of the model surgery."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from scipy import stats

from memsep.empirical.datasets import load_cifar10, load_digits, subset
from memsep.empirical.diffusion import DiffusionConfig, NoiseScore, count_parameters, train_diffusion
from memsep.empirical.dit import DIT_PRESETS, DiT, DiTConfig, make_dit
from memsep.empirical.pruning import (
    draw_importance_times,
    head_count,
    importance_scores,
    prune_heads,
    random_heads,
    select_heads,
)
from memsep.empirical.sampling import sample, sample_seeds


def _model(seed=0, preset="dit-mini", **kw) -> DiT:
    torch.manual_seed(seed)
    m = make_dit(preset, **kw)
    with torch.no_grad():  # leave adaLN-Zero: give every zero-initialised layer weights, so outputs differ
        for p in m.parameters():
            if p.abs().max() == 0:
                p.normal_(0, 0.05)
    return m.eval()


X = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(3))
T = torch.tensor([1e-3, 0.01, 0.1, 1.0, 5.0])


@pytest.mark.parametrize("preset", ["dit-mini", "dit-tiny"])
def test_fresh_dit_outputs_exactly_zero(preset):
    torch.manual_seed(0)
    m = make_dit(preset)
    assert torch.equal(m(X, T), torch.zeros_like(X))


def test_preset_sizes():
    counts = {p: count_parameters(DiT(DiTConfig(**cfg.to_dict()))) for p, cfg in DIT_PRESETS.items() if p != "DiT-B/2"}
    assert 1.2e6 < counts["dit-tiny"] < 1.35e6  # the 1.25M model measured first (depth 4, width 128, 4 heads)
    assert 32e6 < counts["DiT-S/2"] < 34e6  # Peebles & Xie: DiT-S/2 has 33M parameters
    with pytest.raises(ValueError, match="preset: unknown"):
        make_dit("DiT-XXL")
    with pytest.raises(ValueError, match="heads: must be 2 non-negative ints"):
        DiTConfig(depth=2, heads=[4]).validate()


def test_pruning_nothing_is_bit_identical():
    m = _model()
    p = prune_heads(m, {})
    assert torch.equal(m(X, T), p(X, T))
    p2 = prune_heads(m, {0: []})
    assert torch.equal(m(X, T), p2(X, T))


def test_removing_a_head_equals_masking_it_and_counts_parameters_exactly():
    m = _model()
    D, hd = m.cfg.hidden, m.cfg.head_dim
    remove = {0: [1], 1: [0, 3]}
    p = prune_heads(m, remove)
    k = sum(len(v) for v in remove.values())
    # each removed head: hd (3 D + 3) qkv weights and biases plus hd D output-projection weights
    assert count_parameters(p) == count_parameters(m) - k * hd * (4 * D + 3)
    assert p.cfg.heads == [3, 2] and head_count(p) == head_count(m) - k
    for l, hs in remove.items():
        gate = torch.ones(m.blocks[l].attn.heads)
        gate[hs] = 0.0
        m.blocks[l].attn.gate = gate
    masked = m(X, T)
    for a in m.attentions:
        a.gate = None
    torch.testing.assert_close(p(X, T), masked, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(p(X, T), m(X, T), atol=1e-4)  # the heads did matter


def test_removing_every_head_of_a_layer():
    m = _model()
    p = prune_heads(m, {1: [0, 1, 2, 3]})
    m.blocks[1].attn.gate = torch.zeros(4)
    torch.testing.assert_close(p(X, T), m(X, T), rtol=1e-5, atol=1e-6)
    assert p.cfg.heads == [4, 0]


def test_pruned_model_saves_loads_and_trains(tmp_path):
    m = _model()
    p = prune_heads(m, {0: [2]})
    torch.save({"config": p.cfg.to_dict(), "state": p.state_dict()}, tmp_path / "pruned.pt")
    ck = torch.load(tmp_path / "pruned.pt", weights_only=True)
    q = DiT(DiTConfig(**ck["config"]))
    q.load_state_dict(ck["state"])
    q.eval()
    assert torch.equal(q(X, T), p(X, T))
    data = load_digits()[0][:16]
    res = train_diffusion(data, DiffusionConfig(steps=20, batch=8, log_every=10), model=q)
    assert all(np.isfinite(v) for _, v in res.losses)
    assert any(not torch.equal(a, b) for a, b in zip(res.model.state_dict().values(), ck["state"].values()))


def test_importance_scores_are_normalised_and_find_a_dead_head():
    m = _model()
    with torch.no_grad():  # head 2 of layer 0 contributes nothing: zero its proj columns
        hd = m.cfg.head_dim
        m.blocks[0].attn.proj.weight[:, 2 * hd : 3 * hd] = 0.0
    data = load_digits()[0][:32]
    imp = importance_scores(m, data, batches=4, batch=16, seed=1)
    assert [v.shape for v in imp] == [(4,), (4,)]
    for v in imp:
        assert abs(np.linalg.norm(v) - 1.0) < 1e-12 and np.all(v >= 0)
    assert imp[0][2] == 0.0 and np.all(np.delete(imp[0], 2) > 0)
    assert select_heads(imp, 0.125) == {0: [2]}  # floor(0.125 * 8) = 1 head
    assert all(a.gate is None for a in m.attentions)  # gates removed afterwards
    again = importance_scores(m, data, batches=4, batch=16, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(imp, again))


def test_select_and_random_heads_counts():
    imp = [np.array([0.5, 0.1, 0.9]), np.array([0.2, 0.8, 0.3])]
    assert select_heads(imp, 0.5) == {0: [1], 1: [0, 2]}  # floor(0.5 * 6) = 3 lowest
    assert select_heads(imp, 0.0) == {}
    m = _model()
    r = random_heads(m, 0.3, seed=4)
    assert sum(len(v) for v in r.values()) == 2 and r == random_heads(m, 0.3, seed=4)  # floor(0.3 * 8)
    with pytest.raises(ValueError, match="eta: must be in"):
        select_heads(imp, 1.0)


def test_importance_time_law_is_beta_under_each_map():
    # log map: u = (log t - log t0) / (log T - log t0) must be Beta(0.8, 2): KS test, false-failure rate 1e-3
    t = draw_importance_times(4000, 1e-3, 8.0, torch.Generator().manual_seed(0), time_map="log").numpy()
    u = (np.log(t) - np.log(1e-3)) / (np.log(8.0) - np.log(1e-3))
    assert stats.kstest(u, stats.beta(0.8, 2).cdf).pvalue > 1e-3
    lin = draw_importance_times(4000, 1e-3, 8.0, torch.Generator().manual_seed(0), time_map="linear").numpy()
    assert stats.kstest((lin - 1e-3) / (8.0 - 1e-3), stats.beta(0.8, 2).cdf).pvalue > 1e-3
    # ddpm map (the default): t = -log alpha_bar_i of the 1,000-step linear-beta schedule at i = floor(1000 u), so
    # 1 - exp(-t) = 1 - alpha_bar_i is that schedule's noise level; the step index floor(1000 u) / 1000 is Beta(0.8, 2)
    # up to the flooring (KS on the index + 0.5, false-failure rate 1e-3), and the times are the schedule's
    dd = draw_importance_times(4000, 1e-3, 8.0, torch.Generator().manual_seed(0)).numpy()
    betas = np.linspace(1e-4, 0.02, 1000)
    table = np.clip(-np.cumsum(np.log1p(-betas)), 1e-3, 8.0)
    idx = np.searchsorted(table, dd - 1e-12)
    np.testing.assert_allclose(table[idx], dd, rtol=1e-12)
    assert stats.kstest((idx + 0.5) / 1000, stats.beta(0.8, 2).cdf).pvalue > 1e-3
    assert 0.3 < np.median(-np.expm1(-dd)) < 0.55  # median noise level ~0.42 (log map: ~0.01)
    with pytest.raises(ValueError, match="time_map"):
        draw_importance_times(3, 1e-3, 8.0, torch.Generator(), time_map="cosine")


def test_sampler_runs_on_images_with_a_dit():
    m = _model()
    xs = sample(NoiseScore(m), (1, 8, 8), seeds=sample_seeds(0, 3), steps=5)
    assert xs.shape == (3, 1, 8, 8) and torch.all(torch.isfinite(xs))


# ---- data ---------------------------------------------------------------------------------------


def test_digits_are_scaled_to_unit_interval():
    x, y = load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32 and x.min() == -1.0 and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    idx = subset(1797, 32, seed=5)
    assert len(np.unique(idx)) == 32 and np.array_equal(idx, subset(1797, 32, seed=5))
    with pytest.raises(ValueError, match="n: must be an int in"):
        subset(10, 11, 0)


def _fake_cifar(folder, m=4, extra=None):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        obj = {
            b"data": rng.integers(0, 256, (m, 3072), dtype=np.uint8),
            b"labels": list(range(m)),
            b"batch_label": b"fake",
        }
        (folder / name).write_bytes(pickle.dumps(obj if extra is None else extra, protocol=2))


def test_cifar_reader_on_a_fake_folder(tmp_path):
    _fake_cifar(tmp_path / "cifar-10-batches-py")
    x, y = load_cifar10(tmp_path / "cifar-10-batches-py")
    assert x.shape == (20, 3, 32, 32) and -1.0 <= x.min() and x.max() <= 1.0 and y.shape == (20,)
    xt, _ = load_cifar10(tmp_path / "cifar-10-batches-py", train=False)
    assert xt.shape == (4, 3, 32, 32)


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cifar_reader_refuses_bad_folders(tmp_path):
    with pytest.raises(ValueError, match="is not a directory"):
        load_cifar10(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="lacks data_batch_1"):
        load_cifar10(tmp_path / "empty")
    _fake_cifar(tmp_path / "evil", extra=_Evil())
    with pytest.raises(ValueError, match="refusing to load global .*print"):
        load_cifar10(tmp_path / "evil")
    _fake_cifar(tmp_path / "wrong", extra={b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]})
    with pytest.raises(ValueError, match="expected uint8"):
        load_cifar10(tmp_path / "wrong")
    (tmp_path / "junk").mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)]:
        (tmp_path / "junk" / name).write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="is not a CIFAR-10 batch"):
        load_cifar10(tmp_path / "junk")


# ---- checkpoints and data parallelism -------------------------------------------------------------


def test_training_resumes_exactly_from_a_checkpoint(tmp_path, monkeypatch):
    import memsep.empirical.diffusion as diffusion

    data = load_digits()[0][:24]
    cfg = DiffusionConfig(steps=30, batch=8, log_every=5, seed=2)
    torch.manual_seed(0)
    straight = train_diffusion(data, cfg, model=make_dit("dit-mini"))
    real, calls = diffusion.dsm_noise_loss, []

    def dying(*args):
        calls.append(1)
        if len(calls) == 17:  # dies during step 17: the checkpoint holds step 15
            raise RuntimeError("simulated crash")
        return real(*args)

    monkeypatch.setattr(diffusion, "dsm_noise_loss", dying)
    torch.manual_seed(0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_diffusion(data, cfg, model=make_dit("dit-mini"), checkpoint=tmp_path / "ck.pt", checkpoint_every=5)
    monkeypatch.setattr(diffusion, "dsm_noise_loss", real)
    assert diffusion.load_checkpoint(tmp_path / "ck.pt", "cpu")["step"] == 15
    torch.manual_seed(123)  # a different init: the checkpoint must overwrite it
    resumed = train_diffusion(
        data, cfg, model=make_dit("dit-mini"), checkpoint=tmp_path / "ck.pt", checkpoint_every=5, resume=True
    )
    assert resumed.losses == straight.losses
    for a, b in zip(resumed.ema_model.parameters(), straight.ema_model.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="resume: checkpoint .* another configuration"):
        train_diffusion(
            data,
            DiffusionConfig(steps=31, batch=8),
            model=make_dit("dit-mini"),
            checkpoint=tmp_path / "ck.pt",
            resume=True,
        )


def test_two_cpu_processes_train_data_parallel_and_agree(tmp_path):
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parent / "scripts" / "ddp_train.py"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_addr=127.0.0.1",
            f"--master_port={port}",
            str(script),
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    subprocess.run([sys.executable, str(script), str(tmp_path), "--single"], env=env, check=True, timeout=300)
    r0, r1, one = (torch.load(tmp_path / f"{n}.pt") for n in ("rank0", "rank1", "single"))
    for a, b in zip(r0["params"], r1["params"]):
        assert torch.equal(a, b)  # DDP keeps the replicas identical
    for a, b in zip(r0["params"], one["params"]):  # and equal to one process, up to sum order
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose([v for _, v in r0["losses"]], [v for _, v in one["losses"]], rtol=1e-4)
