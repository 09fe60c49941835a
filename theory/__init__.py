"""memsep.theory: the paper's mathematics in float64 numpy/scipy (and sympy in ``symbolic``).

Public API (stable; later claims and outside users rely on these names):

    alpha, sigma, sigma2                       forward OU process (Section 2)
    GaussianMixture                            P and P_t in closed form
    UniformBoxMixture                          mu_k + D^(1/2) xi, xi uniform (S3's non-Gaussian family)
    EmpiricalDistribution                      Phat and Phat_t (streaming softmax at scale)
    dsm_loss, dsm_loss_difference,
    dsm_loss_integrated                        Lhat_t(s), Lhat_t(a) - Lhat_t(b), Lhat(s)
    fisher_divergence, loss_gap                Fisher(P_t, Q_t), Loss-Gap_t (Proposition 4.1)
    Estimate, mean_estimate, derive_seed       estimates with uncertainty; seed derivation
    bound_form, leading_order_gap,
    regime_check, RegimeConstants              Theorem 4.3's B_t, the derived G_t, the explicit regime
    loss_gap_curve, integrated_gap             E_D[Loss-Gap_t] over data sets, and its integral in t
"""

from .bounds import (
    RegimeConstants,
    bound_form,
    concentration_ratio,
    leading_order_gap,
    regime_check,
    regime_check_dist,
    regime_times,
)
from .divergence import fisher_divergence, loss_gap
from .dsm import dsm_loss, dsm_loss_difference, dsm_loss_integrated, noise_draws
from .empirical import EmpiricalDistribution
from .estimate import Estimate, derive_seed, mean_estimate
from .forward import alpha, sigma, sigma2
from .gap import integrated_gap, loss_gap_curve
from .mixture import GaussianMixture
from .quadrature import GaussianComponents
from .uniform_mixture import UniformBoxMixture

__all__ = [
    "alpha",
    "sigma",
    "sigma2",
    "GaussianMixture",
    "EmpiricalDistribution",
    "GaussianComponents",
    "UniformBoxMixture",
    "dsm_loss",
    "dsm_loss_difference",
    "dsm_loss_integrated",
    "noise_draws",
    "fisher_divergence",
    "loss_gap",
    "Estimate",
    "mean_estimate",
    "derive_seed",
    "bound_form",
    "concentration_ratio",
    "leading_order_gap",
    "regime_check",
    "regime_check_dist",
    "regime_times",
    "RegimeConstants",
    "loss_gap_curve",
    "integrated_gap",
]
