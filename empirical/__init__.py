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
"""

from .mlp import ReLUMLP
from .networks import ScoreMLP, as_numpy_score, default_device
from .regression import FitResult, RegressionConfig, evaluate, fit_score
from .targets import EmpiricalScoreTarget, MixtureScoreTarget

__all__ = [
    "ScoreMLP", "as_numpy_score", "default_device",
    "ReLUMLP",
    "EmpiricalScoreTarget", "MixtureScoreTarget",
    "RegressionConfig", "FitResult", "fit_score", "evaluate",
]
