"""memsep.empirical: torch models, training and experiments.

    ScoreMLP, as_numpy_score, default_device     time-conditioned residual score networks (S1)
    ReLUMLP                                      plain ReLU networks F(W, L, N) of Theorem 5.1 (A3)
    EmpiricalScoreTarget, MixtureScoreTarget     grad log phat_t and grad log p_t in torch (A3)
    RegressionConfig, FitResult, fit_score,
    evaluate                                     fitting a network to an exact score under Phat_t (A3)

Submodules of the diffusion experiments (A5, A6; imported by name):
    empirical.diffusion          DSM noise-prediction training, size presets, NoiseScore
    empirical.sampling           reverse SDE / probability-flow ODE samplers with per-sample seeds
    empirical.metrics            memorization ratio (1/3 rule, Wilson CI), mean log-likelihood
    empirical.mixture_diffusion  one resumable point of the Gaussian-mixture experiments
    empirical.fileio             atomic writes and loads that never run code (torch-free to import)
"""

import importlib

# Names -> submodule, imported on first use (PEP 562), so that importing a torch-free submodule such as
# empirical.fileio (used by `memsep report`) does not import torch.
_LAZY = {
    "ReLUMLP": "mlp",
    "ScoreMLP": "networks",
    "as_numpy_score": "networks",
    "default_device": "networks",
    "FitResult": "regression",
    "RegressionConfig": "regression",
    "evaluate": "regression",
    "fit_score": "regression",
    "EmpiricalScoreTarget": "targets",
    "MixtureScoreTarget": "targets",
}

__all__ = [
    "ScoreMLP",
    "as_numpy_score",
    "default_device",
    "ReLUMLP",
    "EmpiricalScoreTarget",
    "MixtureScoreTarget",
    "RegressionConfig",
    "FitResult",
    "fit_score",
    "evaluate",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
