"""Run a memsep command under another arithmetic than float32, without changing the claims' code (GPU readiness).

    python benchmarks/precision_run.py tf32 run --claims M2 --profile ci --device cuda --out runs/tf32
    python benchmarks/precision_run.py bf16 run --claims A6 --profile ci --device cuda --out runs/bf16

``tf32``: TF32 matrix products and convolutions for the whole process (torch.backends flags; CUDA only).
``bf16``: bfloat16 autocast around the whole command (on CUDA when ``--device cuda``, else on the CPU; float64
computations are not cast). ``--out`` is required and should be a folder of its own: sweep points are keyed by
what determines them, not by the arithmetic, so a float32 folder would hand its points back. The results files do
not record the arithmetic; benchmarks/gpu_check.py keeps that record and compares the rules' outcomes with float32.
Exit status: memsep's, or 2 with one line for bad arguments.
"""

from __future__ import annotations

import sys

PRECISIONS = ("tf32", "bf16")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in PRECISIONS:
        got = argv[0] if argv else "nothing"
        print(f"precision_run: error: precision: must be one of {', '.join(PRECISIONS)}, got {got!r}", file=sys.stderr)
        return 2
    precision, rest = argv[0], argv[1:]
    if "--out" not in rest:
        print("precision_run: error: --out: required (a folder of its own for this arithmetic)", file=sys.stderr)
        return 2
    import torch

    from memsep.verify.cli import main as memsep

    if precision == "tf32":
        if not torch.cuda.is_available():
            print("precision_run: error: precision: tf32 needs a CUDA device", file=sys.stderr)
            return 2
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return memsep(rest)
    device = "cuda" if torch.cuda.is_available() and "cuda" in rest else "cpu"
    with torch.autocast(device_type=device, dtype=torch.bfloat16):
        return memsep(rest)


if __name__ == "__main__":
    raise SystemExit(main())
