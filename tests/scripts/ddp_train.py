"""Run by tests/test_dit.py under torchrun: a few DSM steps of a tiny DiT on digits, data-parallel.

    python -m torch.distributed.run --nproc_per_node=2 tests/scripts/ddp_train.py OUT_DIR [--single]

Each rank writes OUT_DIR/rank<r>.pt with its final parameters and loss curve; --single runs the
same training in one process (no torch.distributed) and writes OUT_DIR/single.pt.
"""

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from memsep.empirical.datasets import load_digits
from memsep.empirical.diffusion import DiffusionConfig, train_diffusion
from memsep.empirical.dit import make_dit


def main() -> None:
    out = Path(sys.argv[1])
    single = "--single" in sys.argv
    if not single:
        dist.init_process_group("gloo")
    torch.manual_seed(0)
    model = make_dit("dit-mini")
    data = load_digits()[0][:32]
    res = train_diffusion(data, DiffusionConfig(steps=6, batch=16, log_every=2, warmup=0, seed=1, ema=0.0), model=model)
    name = "single" if single else f"rank{dist.get_rank()}"
    torch.save(
        {"params": [p.detach().clone() for p in res.model.parameters()], "losses": res.losses}, out / f"{name}.pt"
    )
    if not single:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
