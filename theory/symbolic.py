"""Symbolic derivations with sympy, used by the tests as references (claims S1, A1).

Each function returns a :class:`Derivation`: the statement, the residual expression that must
simplify to zero, and whether it did. Symbols: alpha, sigma > 0 (alpha_t, sigma_t; the
identities below do not need alpha^2 + sigma^2 = 1), data points x_1..x_n, query x, and an
arbitrary (undefined) score function s(x).

* :func:`s1_decomposition` (S1, 1-D, n symbolic points). With phi_i(x) = N(x; alpha x_i,
  sigma^2), phat = (1/n) sum_i phi_i, e = phat'/phat and targets T_i = -(x - alpha x_i)/sigma^2,
  the DSM loss is int (1/n) sum_i phi_i (T_i - s)^2 dx. Pointwise in x,

      (1/n) sum_i phi_i (T_i - s)^2 = phat (s - e)^2 + (1/n) sum_i phi_i (T_i - e)^2
                                       + 2 (e - s) (1/n) sum_i phi_i (T_i - e),

  and the cross factor (1/n) sum_i phi_i (T_i - e) = (1/n) sum_i phi_i' - phat' is zero
  (Tweedie: phi_i' = phi_i T_i). Integrating gives Lhat_t(s) - Lhat_t(e) = E_{Phat_t}(s - e)^2.
* :func:`gaussian_score_hessian` (A1): log N(x; alpha mu, alpha^2 Sigma + sigma^2 I) for d = 1
  or 2 with symbolic mean and covariance entries; its gradient and Hessian, simplified, and
  numeric callables made by ``lambdify``.
* :func:`empirical_hessian_identity` (A1, 1-D, n symbolic points): d^2/dx^2 log phat
  = -1/sigma^2 + (alpha^2/sigma^4) Var_w[x_i], with w_i = phi_i / sum_j phi_j.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

__all__ = ["Derivation", "s1_decomposition", "gaussian_score_hessian", "empirical_hessian_identity"]

alpha_, sigma_ = sp.symbols("alpha sigma", positive=True)
x_ = sp.Symbol("x", real=True)


@dataclass(frozen=True)
class Derivation:
    statement: str
    residual: sp.Expr
    holds: bool
    extra: dict


def _is_zero(expr: sp.Expr) -> bool:
    return sp.cancel(sp.together(sp.expand(expr))) == 0


def _kernel_facts(n: int):
    """Symbols and the two kernel facts the proofs use, each verified on the explicit density.

    phi_i(x) = exp(-(x - alpha x_i)^2 / (2 sigma^2)) / sqrt(2 pi sigma^2) satisfies
        phi_i' = phi_i T_i,   phi_i'' = phi_i (T_i^2 - 1/sigma^2),   T_i = -(x - alpha x_i)/sigma^2.
    Returns (xs, P, T, facts_hold): P are positive symbols standing for phi_i(x) (the algebra
    below is then rational, which sympy settles quickly and exactly).
    """
    xs = sp.symbols(f"x1:{n + 1}", real=True)
    P = sp.symbols(f"phi1:{n + 1}", positive=True)
    T = [-(x_ - alpha_ * xi) / sigma_**2 for xi in xs]
    ok = True
    for xi, Ti in zip(xs, T):
        phi = sp.exp(-((x_ - alpha_ * xi) ** 2) / (2 * sigma_**2)) / sp.sqrt(2 * sp.pi * sigma_**2)
        ok &= sp.simplify(sp.diff(phi, x_) / phi - Ti) == 0
        ok &= sp.simplify(sp.diff(phi, x_, 2) / phi - (Ti**2 - 1 / sigma_**2)) == 0
    return xs, P, T, bool(ok)


def s1_decomposition(n: int = 3) -> Derivation:
    """Prove the pointwise S1 decomposition of the DSM integrand for n symbolic 1-D points."""
    if not (isinstance(n, int) and 1 <= n <= 8):
        raise ValueError(f"n: must be an int in [1, 8], got {n!r}")
    xs, P, T, facts = _kernel_facts(n)
    s = sp.Function("s")(x_)
    phat = sp.Add(*P) / n
    dphat = sp.Add(*[p * t for p, t in zip(P, T)]) / n  # phat' by the kernel fact
    e = dphat / phat  # empirical score
    cross = sp.Add(*[p * (t - e) for p, t in zip(P, T)]) / n
    cross_zero = _is_zero(cross)
    lhs = sp.Add(*[p * (t - s) ** 2 for p, t in zip(P, T)]) / n
    rhs = phat * (s - e) ** 2 + sp.Add(*[p * (t - e) ** 2 for p, t in zip(P, T)]) / n
    residual = sp.cancel(sp.together(sp.expand(lhs - rhs)))
    return Derivation(
        statement="(1/n) sum_i phi_i (T_i - s)^2 = phat (s - e)^2 + (1/n) sum_i phi_i (T_i - e)^2, pointwise",
        residual=residual,
        holds=bool(facts and cross_zero and residual == 0),
        extra={"kernel_facts_hold": facts, "cross_term_is_zero": cross_zero, "n": n},
    )


def gaussian_score_hessian(d: int = 1) -> Derivation:
    """Score and Hessian of log p_t for P = N(mu, Sigma), d in {1, 2}, by sympy differentiation.

    extra: 'score' and 'hessian' (sympy Matrices), and 'score_fn', 'hessian_fn': numeric
    callables f(x, mu, Sigma, alpha, sigma) for x (d,), mu (d,), Sigma (d, d). The residual is
    Hessian + (alpha^2 Sigma + sigma^2 I)^{-1}, which must vanish.
    """
    if d not in (1, 2):
        raise ValueError(f"d: must be 1 or 2, got {d!r}")
    xv = sp.Matrix(sp.symbols(f"x1:{d + 1}", real=True))
    mu = sp.Matrix(sp.symbols(f"mu1:{d + 1}", real=True))
    if d == 1:
        v = sp.Symbol("v", positive=True)
        Sig = sp.Matrix([[v]])
        params = [v]
    else:
        v1, v2 = sp.symbols("v1 v2", positive=True)
        c = sp.Symbol("c", real=True)
        Sig = sp.Matrix([[v1, c], [c, v2]])
        params = [v1, v2, c]
    C = alpha_**2 * Sig + sigma_**2 * sp.eye(d)
    diff = xv - alpha_ * mu
    logp = (
        -sp.Rational(1, 2) * (diff.T * C.inv() * diff)[0, 0]
        - sp.Rational(1, 2) * sp.log(C.det())
        - sp.Rational(d, 2) * sp.log(2 * sp.pi)
    )
    score = sp.Matrix([sp.simplify(sp.diff(logp, xi)) for xi in xv])
    hess = sp.Matrix(d, d, lambda i, j: sp.simplify(sp.diff(logp, xv[i], xv[j])))
    residual = sp.simplify(hess + C.inv())
    args = list(xv) + list(mu) + params + [alpha_, sigma_]
    f_score = sp.lambdify(args, score, "numpy")
    f_hess = sp.lambdify(args, hess, "numpy")

    def unpack(x, m, S):
        p = [S[0][0]] if d == 1 else [S[0][0], S[1][1], S[0][1]]
        return list(x) + list(m) + p

    return Derivation(
        statement="grad^2 log N(x; alpha mu, alpha^2 Sigma + sigma^2 I) = -(alpha^2 Sigma + sigma^2 I)^{-1}",
        residual=residual,
        holds=residual == sp.zeros(d, d),
        extra={
            "score": score,
            "hessian": hess,
            "score_fn": lambda x, m, S, a, s: np.asarray(f_score(*unpack(x, m, S), a, s), dtype=float).reshape(d),
            "hessian_fn": lambda x, m, S, a, s: np.asarray(f_hess(*unpack(x, m, S), a, s), dtype=float).reshape(d, d),
        },
    )


def empirical_hessian_identity(n: int = 3) -> Derivation:
    """Lemma C.1 for Phat_t in 1-D: (log phat)'' = -1/sigma^2 + (alpha^2/sigma^4) Var_w[x_i].

    (log phat)'' = phat''/phat - (phat'/phat)^2 with phat' = (1/n) sum phi_i T_i and
    phat'' = (1/n) sum phi_i (T_i^2 - 1/sigma^2) (kernel facts, checked on the density).
    """
    if not (isinstance(n, int) and 1 <= n <= 8):
        raise ValueError(f"n: must be an int in [1, 8], got {n!r}")
    xs, P, T, facts = _kernel_facts(n)
    total = sp.Add(*P)
    w = [p / total for p in P]
    mean = sp.Add(*[wi * xi for wi, xi in zip(w, xs)])
    var = sp.Add(*[wi * (xi - mean) ** 2 for wi, xi in zip(w, xs)])
    d1 = sp.Add(*[p * t for p, t in zip(P, T)]) / total
    d2 = sp.Add(*[p * (t**2 - 1 / sigma_**2) for p, t in zip(P, T)]) / total
    hess = d2 - d1**2
    residual = sp.cancel(sp.together(sp.expand(hess - (-1 / sigma_**2 + alpha_**2 / sigma_**4 * var))))
    return Derivation(
        statement="(log phat_t)'' = -1/sigma^2 + alpha^2/sigma^4 Var_w[x_i]",
        residual=residual,
        holds=bool(facts and residual == 0),
        extra={"n": n, "kernel_facts_hold": facts, "hessian": hess, "symbols": (xs, P)},
    )
