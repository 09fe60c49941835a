"""Input validation of the public ``theory`` API (contract of ``theory/validation.py``).

Every bad input must raise ``ValueError`` whose message starts with the parameter's name and
states the constraint (``"t: must be > 0, got -1.0"``); no traceback from deep inside numpy,
no NaN result, no silent acceptance. A score callable that returns NaN/inf is reported as
``FloatingPointError`` naming the callable (that is the library's documented choice).

One test per case: each table row below is one ``pytest.param`` with a readable id.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from memsep.theory import (
    EmpiricalDistribution,
    GaussianMixture,
    alpha,
    dsm_loss,
    dsm_loss_difference,
    dsm_loss_integrated,
    fisher_divergence,
    loss_gap,
    sigma,
    sigma2,
)

# ---- small valid objects (d = 2) ------------------------------------------------------------
W = [0.3, 0.7]
MU = [[0.0, 0.0], [1.0, -1.0]]
COV = np.stack([np.eye(2), [[2.0, 0.5], [0.5, 1.0]]])
DATA = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
X = np.array([[0.1, 0.2], [0.3, -0.4]])
NAN, INF = float("nan"), float("inf")


def mix() -> GaussianMixture:
    return GaussianMixture(W, MU, COV)


def emp() -> EmpiricalDistribution:
    return EmpiricalDistribution(DATA)


def s_lin(x, t):
    """A valid score callable: (m, d) -> (m, d)."""
    return -x


def mix3() -> GaussianMixture:
    """A valid mixture in d = 3 (dimension mismatch against the d = 2 objects)."""
    return GaussianMixture([1.0], [[0.0, 0.0, 0.0]], np.eye(3)[None])


def case(case_id: str, call, match: str):
    return pytest.param(call, match, id=case_id)


def with_nan(a, index):
    a = np.array(a, dtype=float)
    a[index] = NAN
    return a


def with_inf(a, index):
    a = np.array(a, dtype=float)
    a[index] = INF
    return a


# ---- GaussianMixture construction -----------------------------------------------------------
MIXTURE_INIT = [
    case("weights-nan", lambda: GaussianMixture([NAN, 1.0], MU, COV), r"^weights: must be finite"),
    case("weights-inf", lambda: GaussianMixture([INF, 0.5], MU, COV), r"^weights: must be finite"),
    case("weights-negative", lambda: GaussianMixture([-0.5, 1.5], MU, COV), r"^weights: must be non-negative"),
    case("weights-sum-0.9", lambda: GaussianMixture([0.3, 0.6], MU, COV), r"^weights: must sum to 1"),
    case("weights-sum-1+1e-9", lambda: GaussianMixture([0.5, 0.5 + 1e-9], MU, COV), r"^weights: must sum to 1"),
    case("weights-2d", lambda: GaussianMixture([[0.3, 0.7]], MU, COV), r"^weights: must have 1 dimension"),
    case(
        "weights-empty",
        lambda: GaussianMixture([], np.zeros((0, 2)), np.zeros((0, 2, 2))),
        r"^weights: must contain at least one weight",
    ),
    case(
        "weights-strings", lambda: GaussianMixture(["a", "b"], MU, COV), r"^weights: must be an array of real numbers"
    ),
    case("means-nan", lambda: GaussianMixture(W, with_nan(MU, (1, 0)), COV), r"^means: must be finite"),
    case("means-inf", lambda: GaussianMixture(W, with_inf(MU, (0, 1)), COV), r"^means: must be finite"),
    case(
        "means-rows-3-vs-K-2",
        lambda: GaussianMixture(W, [[0, 0], [1, 1], [2, 2]], COV),
        r"^means: must have K = 2 rows",
    ),
    case("means-rows-1-vs-K-2", lambda: GaussianMixture(W, [[0, 0]], COV), r"^means: must have K = 2 rows"),
    case("means-1d", lambda: GaussianMixture(W, [0.0, 1.0], COV), r"^means: must have 2 dimension"),
    case(
        "means-zero-columns",
        lambda: GaussianMixture(W, np.zeros((2, 0)), np.zeros((2, 0, 0))),
        r"^means: must have at least one coordinate",
    ),
    case("covs-nan", lambda: GaussianMixture(W, MU, with_nan(COV, (1, 0, 1))), r"^covs: must be finite"),
    case("covs-inf", lambda: GaussianMixture(W, MU, with_inf(COV, (0, 0, 0))), r"^covs: must be finite"),
    case(
        "covs-d3-for-d2",
        lambda: GaussianMixture(W, MU, np.stack([np.eye(3)] * 2)),
        r"^covs: must have shape \(2, 2, 2\)",
    ),
    case("covs-K1-for-K2", lambda: GaussianMixture(W, MU, np.eye(2)[None]), r"^covs: must have shape \(2, 2, 2\)"),
    case("covs-2d", lambda: GaussianMixture([1.0], [[0.0, 0.0]], np.eye(2)), r"^covs: must have 3 dimension"),
    case(
        "covs-ragged",
        lambda: GaussianMixture(W, MU, [np.eye(2), np.eye(3)]),
        r"^covs: must be an array of real numbers",
    ),
    case(
        "covs-non-symmetric",
        lambda: GaussianMixture(W, MU, np.stack([np.eye(2), [[2.0, 0.5], [0.4, 1.0]]])),
        r"^covs: must be symmetric",
    ),
    case(
        "covs-negative-eigenvalue",
        lambda: GaussianMixture(W, MU, np.stack([np.eye(2), np.diag([1.0, -1.0])])),
        r"^covs: must be positive definite, component 1 has smallest eigenvalue -1",
    ),
    case(
        "covs-negative-definite",
        lambda: GaussianMixture([1.0], [[0.0, 0.0]], -np.eye(2)[None]),
        r"^covs: must be positive definite, component 0",
    ),
    case(
        "covs-singular-ones",
        lambda: GaussianMixture([1.0], [[0.0, 0.0]], np.ones((1, 2, 2))),
        r"^covs: must be positive definite",
    ),
    case(
        "covs-zero",
        lambda: GaussianMixture([1.0], [[0.0, 0.0]], np.zeros((1, 2, 2))),
        r"^covs: must be positive definite",
    ),
    # A rank-one covariance whose rounded entries pass Cholesky (cond ~ 3e17) is numerically
    # singular (logpdf(t=0) would be ~ -7e16): rejected by the condition-number bound.
    case(
        "covs-singular-rank-one-rounded",
        lambda: GaussianMixture([1.0], [[0.0, 0.0]], np.outer([0.7, 0.1], [0.7, 0.1])[None]),
        r"^covs: must be (numerically )?positive definite",
    ),
    case(
        "isotropic-variance-negative", lambda: GaussianMixture.isotropic(W, MU, [1.0, -2.0]), r"^variances: must be > 0"
    ),
    case("isotropic-variance-zero", lambda: GaussianMixture.isotropic(W, MU, 0.0), r"^variances: must be > 0"),
    case("isotropic-variance-nan", lambda: GaussianMixture.isotropic(W, MU, NAN), r"^variances: must be finite"),
    # A wrong-length variances vector is named (not numpy's broadcast error).
    case("isotropic-variances-3-for-K-2", lambda: GaussianMixture.isotropic(W, MU, [1.0, 2.0, 3.0]), r"^variances: "),
    case(
        "diagonal-variances-wrong-shape",
        lambda: GaussianMixture.diagonal(W, MU, [[1.0, 2.0, 3.0]]),
        r"^variances: must have shape \(2, 2\) or \(2,\)",
    ),
    case("diagonal-variance-zero", lambda: GaussianMixture.diagonal(W, MU, [1.0, 0.0]), r"^variances: must be > 0"),
    case("diagonal-variance-inf", lambda: GaussianMixture.diagonal(W, MU, [1.0, INF]), r"^variances: must be finite"),
]


@pytest.mark.parametrize("call, match", MIXTURE_INIT)
def test_mixture_construction_rejects(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- GaussianMixture methods: bad x (m, d) ----------------------------------------------------
MIXTURE_METHODS = ["logpdf", "score", "hessian", "responsibilities", "denoiser", "posterior_cov"]
BAD_X = [
    ("x-nan", with_nan(X, (0, 1)), r"^x: must be finite, got 1 NaN or inf entry"),
    ("x-inf", with_inf(X, (1, 0)), r"^x: must be finite"),
    ("x-d3-for-d2", np.zeros((2, 3)), r"^x: must have d = 2 columns"),
    ("x-d1-for-d2", np.zeros((2, 1)), r"^x: must have d = 2 columns"),
    ("x-1d-vector", np.array([0.1, 0.2]), r"^x: must have 2 dimension\(s\), got shape \(2,\)"),
    ("x-3d", np.zeros((1, 2, 2)), r"^x: must have 2 dimension\(s\)"),
    ("x-empty", np.zeros((0, 2)), r"^x: must contain at least one point"),
    ("x-strings", np.array([["a", "b"]]), r"^x: must be an array of real numbers"),
]


@pytest.mark.parametrize("x, match", [pytest.param(x, m, id=i) for i, x, m in BAD_X])
@pytest.mark.parametrize("method", MIXTURE_METHODS)
def test_mixture_method_rejects_bad_x(method, x, match):
    with pytest.raises(ValueError, match=match):
        getattr(mix(), method)(x, 0.5)


# ---- GaussianMixture methods: bad t, n, rng (and complex x) ----------------------------------------------------------
MIXTURE_T = [
    # t = 0 is the data law: allowed for these, so only t < 0 is rejected ("t: must be >= 0").
    *[
        case(f"{m}-t-negative", (lambda m=m: getattr(mix(), m)(X, -1.0)), r"^t: must be >= 0, got -1")
        for m in ("logpdf", "score", "hessian", "responsibilities")
    ],
    case("logpdf-t-tiny-negative", lambda: mix().logpdf(X, -1e-300), r"^t: must be >= 0"),
    case("moments-t-negative", lambda: mix().moments(-0.5), r"^t: must be >= 0"),
    case("components-t-negative", lambda: mix().components(-0.5), r"^t: must be >= 0"),
    case("sample-t-negative", lambda: mix().sample(3, 0, t=-0.5), r"^t: must be >= 0"),
    # denoiser and posterior_cov need t > 0.
    *[
        case(f"{m}-t-{label}", (lambda m=m, t=t: getattr(mix(), m)(X, t)), r"^t: must be > 0")
        for m in ("denoiser", "posterior_cov")
        for label, t in (("zero", 0.0), ("negative", -1.0))
    ],
    *[
        case(f"{m}-t-{label}", (lambda m=m, t=t: getattr(mix(), m)(X, t)), r"^t: must be finite")
        for m in ("logpdf", "score", "denoiser")
        for label, t in (("nan", NAN), ("inf", INF))
    ],
    case("score-t-string", lambda: mix().score(X, "0.5"), r"^t: must be a real scalar"),
    case("score-t-vector", lambda: mix().score(X, np.array([0.5])), r"^t: must be a real scalar"),
    case("score-t-bool", lambda: mix().score(X, True), r"^t: must be a real scalar"),
    case("score-t-above-1e4", lambda: mix().score(X, 1e5), r"^t: must be <= 10000"),
    # Complex x is rejected (not cast with a ComplexWarning); every method shares the check
    # (as_array), so one case stands for all.
    case("score-x-complex", lambda: mix().score(np.array([[1.0 + 1.0j, 0.0]]), 0.5), r"^x: must be real"),
    case("sample-n-zero", lambda: mix().sample(0, 0), r"^n: must be an integer >= 1"),
    case("sample-n-float", lambda: mix().sample(2.5, 0), r"^n: must be an integer >= 1"),
    case(
        "sample-rng-negative-seed",
        lambda: mix().sample(3, -1),
        r"^rng: must be a numpy Generator or a non-negative int",
    ),
    case("sample-rng-float", lambda: mix().sample(3, 1.5), r"^rng: must be a numpy Generator or a non-negative int"),
]


@pytest.mark.parametrize("call, match", MIXTURE_T)
def test_mixture_method_rejects(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- EmpiricalDistribution ---------------------------------------------------------------------
EMP_METHODS = ["weights", "logpdf", "denoiser", "score", "posterior_cov", "hessian"]
EMPIRICAL = [
    case("points-nan", lambda: EmpiricalDistribution(with_nan(DATA, (2, 1))), r"^points: must be finite"),
    case("points-inf", lambda: EmpiricalDistribution(with_inf(DATA, (0, 0))), r"^points: must be finite"),
    case("points-empty", lambda: EmpiricalDistribution(np.zeros((0, 2))), r"^points: must contain at least one point"),
    case(
        "points-zero-columns",
        lambda: EmpiricalDistribution(np.zeros((3, 0))),
        r"^points: must have at least one coordinate",
    ),
    case("points-1d", lambda: EmpiricalDistribution(np.array([0.0, 1.0, 2.0])), r"^points: must have 2 dimension"),
    case("points-3d", lambda: EmpiricalDistribution(np.zeros((3, 2, 2))), r"^points: must have 2 dimension"),
    case("dtype-int", lambda: EmpiricalDistribution(DATA, dtype=int), r"^dtype: must be float64 or float32, got int64"),
    case("dtype-float16", lambda: EmpiricalDistribution(DATA, dtype=np.float16), r"^dtype: must be float64 or float32"),
    case("dtype-complex", lambda: EmpiricalDistribution(DATA, dtype=complex), r"^dtype: must be float64 or float32"),
    # An unknown dtype name is a ValueError naming dtype (not numpy's TypeError).
    case("dtype-unknown-name", lambda: EmpiricalDistribution(DATA, dtype="foo"), r"^dtype: must be float64 or float32"),
    case(
        "memory-budget-too-small",
        lambda: EmpiricalDistribution(DATA, memory_budget=1024),
        r"^memory_budget: must be an integer >= 65536",
    ),
    *[
        case(f"{m}-t-{label}", (lambda m=m, t=t: getattr(emp(), m)(X, t)), r"^t: must be > 0")
        for m in EMP_METHODS
        for label, t in (("zero", 0.0), ("negative", -0.5))
    ],
    case("components-t-zero", lambda: emp().components(0.0), r"^t: must be > 0"),
    case("score-t-nan", lambda: emp().score(X, NAN), r"^t: must be finite"),
    case("score-t-inf", lambda: emp().score(X, INF), r"^t: must be finite"),
    case("sample-t-negative", lambda: emp().sample(4, 0, t=-1.0), r"^t: must be >= 0"),
    case("sample-m-zero", lambda: emp().sample(0, 0), r"^m: must be an integer >= 1"),
    case("sample-rng-negative-seed", lambda: emp().sample(4, -3), r"^rng: must be a numpy Generator or a non-negative"),
    *[
        case(f"{m}-{i}", (lambda m=m, x=x: getattr(emp(), m)(x, 0.5)), match)
        for m in ("score", "denoiser", "hessian")
        for i, x, match in BAD_X[:5]
    ],
    case("nearest-k-gt-n", lambda: emp().nearest(X, k=4), r"^k: must be <= n = 3, got 4"),
    case("nearest-k-zero", lambda: emp().nearest(X, k=0), r"^k: must be an integer >= 1"),
    case("nearest-x-wrong-d", lambda: emp().nearest(np.zeros((1, 3)), k=1), r"^x: must have d = 2 columns"),
    case("nearest-x-nan", lambda: emp().nearest(with_nan(X, (0, 0)), k=1), r"^x: must be finite"),
]


@pytest.mark.parametrize("call, match", EMPIRICAL)
def test_empirical_rejects(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- forward process -------------------------------------------------------------------------
FORWARD = [
    *[
        case(f"{f.__name__}-t-negative", (lambda f=f: f(-0.1)), r"^t: must be >= 0, got min -0.1")
        for f in (alpha, sigma, sigma2)
    ],
    case("alpha-t-array-with-negative", lambda: alpha([0.0, 1.0, -2.0]), r"^t: must be >= 0, got min -2"),
    case("sigma-t-nan", lambda: sigma(NAN), r"^t: must be finite"),
    case("sigma2-t-inf", lambda: sigma2([1.0, INF]), r"^t: must be finite"),
]


@pytest.mark.parametrize("call, match", FORWARD)
def test_forward_rejects(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- DSM losses ------------------------------------------------------------------------------
def dsm(**kw):
    args = dict(data=DATA, score=s_lin, t=0.5)
    args.update(kw)
    return dsm_loss(args.pop("data"), args.pop("score"), args.pop("t"), **args)


DSM = [
    case("data-nan", lambda: dsm(data=with_nan(DATA, (1, 1))), r"^data: must be finite"),
    case("data-inf", lambda: dsm(data=with_inf(DATA, (0, 0))), r"^data: must be finite"),
    case("data-empty", lambda: dsm(data=np.zeros((0, 2))), r"^data: must contain at least one point"),
    case("data-1d", lambda: dsm(data=np.array([0.0, 1.0])), r"^data: must have 2 dimension"),
    case("data-3d", lambda: dsm(data=np.zeros((3, 2, 2))), r"^data: must have 2 dimension"),
    case("t-zero", lambda: dsm(t=0.0), r"^t: must be > 0, got 0"),
    case("t-negative", lambda: dsm(t=-1.0), r"^t: must be > 0, got -1"),
    case("t-nan", lambda: dsm(t=NAN), r"^t: must be finite"),
    case("t-inf", lambda: dsm(t=INF), r"^t: must be finite"),
    case("method-unknown", lambda: dsm(method="simpson"), r"^method: must be 'auto', 'quadrature' or 'mc'"),
    case(
        "method-quadrature-d3",
        lambda: dsm(data=np.zeros((3, 3)), method="quadrature"),
        r"^method: 'quadrature' supports d <= 2, got d = 3",
    ),
    case("n_draws-1", lambda: dsm(method="mc", n_draws=1), r"^n_draws: must be an integer >= 2, got 1"),
    case("n_draws-0", lambda: dsm(method="mc", n_draws=0), r"^n_draws: must be an integer >= 2"),
    case("n_draws-float", lambda: dsm(method="mc", n_draws=100.0), r"^n_draws: must be an integer >= 2"),
    case("level-0", lambda: dsm(level=0.0), r"^level: must be in \(0, 1\)"),
    case("level-1", lambda: dsm(level=1.0), r"^level: must be in \(0, 1\)"),
    case("level-1.5", lambda: dsm(level=1.5), r"^level: must be in \(0, 1\)"),
    case("level-negative", lambda: dsm(level=-0.05), r"^level: must be in \(0, 1\)"),
    case("level-nan", lambda: dsm(level=NAN), r"^level: must be in \(0, 1\)"),
    case("level-string", lambda: dsm(level="high"), r"^level: must be a number in \(0, 1\)"),
    case("seed-negative-mc", lambda: dsm(method="mc", n_draws=10, seed=-1), r"^seed: must be a non-negative int"),
    case("seed-bool-mc", lambda: dsm(method="mc", n_draws=10, seed=True), r"^seed: must be a non-negative int"),
    case("seed-float-mc", lambda: dsm(method="mc", n_draws=10, seed=1.0), r"^seed: must be a non-negative int"),
    case(
        "score-returns-wrong-columns",
        lambda: dsm(score=lambda x, t: x[:, :1]),
        r"^score: must return an array of shape \(\d+, 2\)",
    ),
    case(
        "score-returns-transposed",
        lambda: dsm(score=lambda x, t: x.T, method="mc", n_draws=10),
        r"^score: must return an array of shape \(10, 2\) .*got \(2, 10\)",
    ),
    case("score-returns-scalar", lambda: dsm(score=lambda x, t: 0.0), r"^score: must return an array of shape"),
    case("score-returns-None", lambda: dsm(score=lambda x, t: None), r"^score: must return an array of shape"),
    # Non-numeric score output is named (not numpy's "could not convert string to float").
    case("score-returns-strings", lambda: dsm(score=lambda x, t: np.full(x.shape, "a")), r"^score: "),
    case("difference-t-zero", lambda: dsm_loss_difference(DATA, s_lin, s_lin, 0.0), r"^t: must be > 0"),
    case(
        "difference-score_b-wrong-shape",
        lambda: dsm_loss_difference(DATA, s_lin, lambda x, t: x[:1], 0.5),
        r"^score_b: must return an array of shape",
    ),
    case(
        "difference-n_draws-1",
        lambda: dsm_loss_difference(DATA, s_lin, s_lin, 0.5, method="mc", n_draws=1),
        r"^n_draws: must be an integer >= 2",
    ),
    case(
        "integrated-T-equals-t0", lambda: dsm_loss_integrated(DATA, s_lin, 1.0, 1.0), r"^T: must be > t0 = 1.0, got 1.0"
    ),
    case(
        "integrated-T-below-t0", lambda: dsm_loss_integrated(DATA, s_lin, 1.0, 0.5), r"^T: must be > t0 = 1.0, got 0.5"
    ),
    case("integrated-t0-zero", lambda: dsm_loss_integrated(DATA, s_lin, 0.0, 1.0), r"^t0: must be > 0"),
    case("integrated-T-negative", lambda: dsm_loss_integrated(DATA, s_lin, 0.1, -1.0), r"^T: must be > 0"),
    case(
        "integrated-n_times-1",
        lambda: dsm_loss_integrated(DATA, s_lin, 0.1, 1.0, n_times=1),
        r"^n_times: must be an integer >= 2",
    ),
    case("integrated-level-1", lambda: dsm_loss_integrated(DATA, s_lin, 0.1, 1.0, level=1.0), r"^level: must be in"),
    # A negative seed is rejected up front (not by np.random.SeedSequence inside derive_seed).
    case(
        "integrated-seed-negative-mc",
        lambda: dsm_loss_integrated(DATA, s_lin, 0.1, 1.0, n_times=2, method="mc", n_draws=10, seed=-1),
        r"^seed: must be a non-negative int",
    ),
]


@pytest.mark.parametrize("call, match", DSM)
def test_dsm_rejects(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- Fisher divergence and Loss-Gap -----------------------------------------------------------
DIVERGENCE = [
    case("fisher-t-zero", lambda: fisher_divergence(mix(), s_lin, 0.0), r"^t: must be > 0"),
    case("fisher-t-negative", lambda: fisher_divergence(mix(), s_lin, -2.0), r"^t: must be > 0"),
    case("fisher-t-nan", lambda: fisher_divergence(mix(), s_lin, NAN), r"^t: must be finite"),
    case("fisher-empirical-t-zero", lambda: fisher_divergence(emp(), mix(), 0.0), r"^t: must be > 0"),
    case(
        "fisher-p-not-a-distribution",
        lambda: fisher_divergence(DATA, s_lin, 0.5),
        r"^p: must be a GaussianMixture or EmpiricalDistribution",
    ),
    case(
        "fisher-q-not-callable", lambda: fisher_divergence(mix(), 3.0, 0.5), r"^q: must be a distribution with a .score"
    ),
    case("fisher-method-unknown", lambda: fisher_divergence(mix(), s_lin, 0.5, method="exact"), r"^method: must be"),
    case(
        "fisher-quadrature-d3",
        lambda: fisher_divergence(mix3(), mix3(), 0.5, method="quadrature"),
        r"^method: 'quadrature' supports d <= 2",
    ),
    case(
        "fisher-n_draws-1",
        lambda: fisher_divergence(mix(), s_lin, 0.5, method="mc", n_draws=1),
        r"^n_draws: must be an integer >= 2",
    ),
    case("fisher-level-1", lambda: fisher_divergence(mix(), s_lin, 0.5, level=1.0), r"^level: must be in \(0, 1\)"),
    case(
        "fisher-seed-negative-mc",
        lambda: fisher_divergence(mix(), s_lin, 0.5, method="mc", n_draws=10, seed=-1),
        r"^seed: must be a non-negative int",
    ),
    case(
        "fisher-q-wrong-shape",
        lambda: fisher_divergence(mix(), lambda x, t: x[:, :1], 0.5),
        r"^q: must return an array of shape",
    ),
    # A q of another dimension is named as q (not as x inside q.score).
    case("fisher-q-dimension-mismatch", lambda: fisher_divergence(mix(), mix3(), 0.5), r"^q: "),
    case("loss_gap-t-zero", lambda: loss_gap(DATA, mix(), 0.0), r"^t: must be > 0"),
    case("loss_gap-t-negative", lambda: loss_gap(DATA, mix(), -0.1), r"^t: must be > 0"),
    case("loss_gap-data-nan", lambda: loss_gap(with_nan(DATA, (0, 1)), mix(), 0.5), r"^data: must be finite"),
    case("loss_gap-data-empty", lambda: loss_gap(np.zeros((0, 2)), mix(), 0.5), r"^data: must contain at least one"),
    case("loss_gap-data-3d", lambda: loss_gap(np.zeros((3, 2, 2)), mix(), 0.5), r"^data: must have 2 dimension"),
    case("loss_gap-true-not-callable", lambda: loss_gap(DATA, "gauss", 0.5), r"^true_dist: must be a distribution"),
    case(
        "loss_gap-method-quadrature-d3",
        lambda: loss_gap(np.zeros((3, 3)), mix3(), 0.5, method="quadrature"),
        r"^method: 'quadrature' supports d <= 2",
    ),
    case("loss_gap-level-0", lambda: loss_gap(DATA, mix(), 0.5, level=0.0), r"^level: must be in \(0, 1\)"),
    # As for fisher-q-dimension-mismatch: named as true_dist.
    case("loss_gap-true-dimension-mismatch", lambda: loss_gap(DATA, mix3(), 0.5), r"^true_dist: "),
]


@pytest.mark.parametrize("call, match", DIVERGENCE)
def test_divergence_rejects(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- a score callable returning NaN / inf: FloatingPointError naming the callable -------------
def nan_score(x, t):
    return np.full(x.shape, np.nan)


def inf_score(x, t):
    out = -np.array(x, dtype=float)
    out[-1, 0] = np.inf
    return out


NON_FINITE_SCORE = [
    case(
        "dsm-quadrature-nan",
        lambda: dsm(score=nan_score, method="quadrature"),
        r"^score: returned NaN or inf at t = 0.5",
    ),
    case(
        "dsm-mc-nan", lambda: dsm(score=nan_score, method="mc", n_draws=50), r"^score: returned NaN or inf at t = 0.5"
    ),
    case("dsm-mc-inf-one-entry", lambda: dsm(score=inf_score, method="mc", n_draws=50), r"^score: returned NaN or inf"),
    case("dsm-mc-d3-nan", lambda: dsm(data=np.zeros((3, 3)), score=nan_score, n_draws=20), r"^score: returned NaN"),
    case(
        "difference-score_b-nan",
        lambda: dsm_loss_difference(DATA, s_lin, nan_score, 0.5),
        r"^score_b: returned NaN or inf",
    ),
    case("integrated-nan", lambda: dsm_loss_integrated(DATA, nan_score, 0.1, 1.0, n_times=2), r"^score: returned NaN"),
    case("fisher-q-nan", lambda: fisher_divergence(mix(), nan_score, 0.5), r"^q: returned NaN or inf at t = 0.5"),
    case(
        "fisher-q-nan-mc",
        lambda: fisher_divergence(mix(), nan_score, 0.5, method="mc", n_draws=20),
        r"^q: returned NaN",
    ),
]


@pytest.mark.parametrize("call, match", NON_FINITE_SCORE)
def test_non_finite_score_is_a_clear_error(call, match):
    """The library raises FloatingPointError (not ValueError) naming the callable: never a NaN estimate."""
    with pytest.raises(FloatingPointError, match=match):
        call()


# ---- happy path at the boundaries: valid input must not be rejected --------------------------
def test_mixture_score_and_logpdf_accept_t_zero():
    """t = 0 is the data law itself; reference: closed-form Gaussian score and scipy's logpdf."""
    S = np.array([[2.0, 0.5], [0.5, 1.0]])
    mu = np.array([1.0, -1.0])
    g = GaussianMixture([1.0], mu[None], S[None])
    np.testing.assert_allclose(g.score(X, 0), -np.linalg.solve(S, (X - mu).T).T, rtol=1e-13)
    np.testing.assert_allclose(g.logpdf(X, 0.0), multivariate_normal(mu, S).logpdf(X), rtol=1e-13)
    assert np.all(np.isfinite(g.hessian(X, 0)))


def test_mixture_with_zero_weight_component_is_accepted():
    """A zero weight is a valid mixture: the component gets responsibility 0 and changes nothing."""
    g = GaussianMixture([0.0, 1.0], MU, COV)
    single = GaussianMixture([1.0], [MU[1]], COV[1:])
    for t in (0.0, 0.5):
        np.testing.assert_array_equal(g.responsibilities(X, t)[:, 0], 0.0)
        np.testing.assert_allclose(g.score(X, t), single.score(X, t), rtol=1e-14)
        np.testing.assert_allclose(g.logpdf(X, t), single.logpdf(X, t), rtol=1e-14)
    np.testing.assert_allclose(g.posterior_cov(X, 0.5), single.posterior_cov(X, 0.5), rtol=1e-13)
    assert g.sample(20, 0, return_labels=True)[1].min() == 1


def test_weights_summing_to_one_up_to_rounding_are_accepted_and_renormalised():
    w = [0.1] * 10  # sums to 0.9999999999999999 in float64
    g = GaussianMixture.isotropic(w, np.arange(20.0).reshape(10, 2))
    assert g.weights.sum() == pytest.approx(1.0, abs=1e-15)


def test_tiny_covariance_asymmetry_is_accepted_and_symmetrised():
    c = COV.copy()
    c[1, 0, 1] += 1e-14  # below rtol 1e-10 * max|C|
    g = GaussianMixture(W, MU, c)
    np.testing.assert_array_equal(g.covs, np.swapaxes(g.covs, 1, 2))


@pytest.mark.parametrize(
    "t", [0.5, np.float32(0.5), np.float64(0.5), np.array(0.5)], ids=["float", "float32", "float64", "0d-array"]
)
def test_time_scalar_types_are_accepted(t):
    np.testing.assert_allclose(mix().score(X, t), mix().score(X, 0.5), rtol=1e-7)


def test_integer_time_is_accepted():
    np.testing.assert_array_equal(emp().score(X, 1), emp().score(X, 1.0))
    np.testing.assert_array_equal(mix().denoiser(X, np.int64(2)), mix().denoiser(X, 2.0))


def test_empirical_boundaries_are_accepted():
    e = emp()
    draws = e.sample(5, 0, t=0.0)  # t = 0 allowed for sample: draws are data points
    assert all(any(np.array_equal(x, p) for p in DATA) for x in draws)
    idx, dist = e.nearest(X, k=e.n)  # k == n is allowed
    assert idx.shape == (2, 3) and np.all(np.diff(dist, axis=1) >= 0)
    assert EmpiricalDistribution(DATA, dtype=np.float32).score(X, 0.5).dtype == np.float32


def test_forward_process_at_t_zero():
    assert alpha(0) == 1.0 and sigma(0) == 0.0 and sigma2(0.0) == 0.0


def test_smallest_valid_estimator_settings_are_accepted():
    est = dsm(method="mc", n_draws=2, seed=0, level=0.5)
    assert est.n_draws == 2 and np.isfinite(est.value) and est.ci_low <= est.value <= est.ci_high
    assert dsm(level=1e-6).level is None  # quadrature: deterministic, no level
