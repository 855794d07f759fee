#!/usr/bin/env python3
"""fit_scipy.py - the scipy side of bench/bench_fit.sh (never part of the tests).

Fits the same likelihoods as tessera (docs/models.md) with numpy/scipy:
data compressed to unique rows with counts (as tessera does), log-parameters,
scipy.optimize.minimize(method="L-BFGS-B") with its default finite-difference
gradient, starting from tessera's first starting point.

    python3 fit_scipy.py MODEL SUMMARY.csv [raw]
("raw": no compression, one term per customer as lifetimes does) prints one line: model=.. n=.. seconds=.. loglik=.. params=.. success=..
(seconds, cpu: wall and CPU seconds of the fit only, after reading the CSV).
"""
import sys
import time

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1, betaln


def col(df, *names):
    for n in names:
        if n in df.columns:
            return df[n].to_numpy(dtype=float)
    return None


def ll_bgnbd(p, x, tx, T, w):
    r, alpha, a, b = p
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    A2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    A3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        A4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                      - (r + x) * np.log(alpha + tx), -np.inf)
    return np.sum(w * (A1 + A2 + np.logaddexp(A3, A4)))


def ll_mbgnbd(p, x, tx, T, w):
    r, alpha, a, b = p
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    A2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
    A3 = -(r + x) * np.log(alpha + T)
    A4 = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + tx)
    return np.sum(w * (A1 + A2 + np.logaddexp(A3, A4)))


def ll_pnbd(p, x, tx, T, w):
    r, alpha, s, beta = p
    a2 = r + s + x
    if alpha >= beta:
        m, b2, d = alpha, s + 1, alpha - beta
    else:
        m, b2, d = beta, r + x, beta - alpha
    with np.errstate(all="ignore"):
        l1 = np.log(hyp2f1(a2, b2, a2 + 1, d / (m + tx))) - a2 * np.log(m + tx)
        l2 = np.log(hyp2f1(a2, b2, a2 + 1, d / (m + T))) - a2 * np.log(m + T)
        lA0 = l1 + np.log(-np.expm1(l2 - l1))
        lA0 = np.where(tx >= T, -np.inf, lA0)
        lE = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        C = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        return np.sum(w * (C + np.logaddexp(lE, np.log(s) - np.log(a2) + lA0)))


def ll_bgbb(p, x, tx, n, w):
    al, be, ga, de = p
    lB, lG = betaln(al, be), betaln(ga, de)
    terms = [betaln(al + x, be + n - x) - lB + betaln(ga, de + n) - lG]
    for i in range(int(n.max())):
        ok = tx + i < n
        t = betaln(al + x, be + tx - x + i) - lB + betaln(ga + 1, de + tx + i) - lG
        terms.append(np.where(ok, t, -np.inf))
    L = terms[0]
    for t in terms[1:]:
        L = np.logaddexp(L, t)
    return np.sum(w * L)


def ll_gg(P, x, m, w):
    p, q, g = P
    px = p * x
    return np.sum(w * (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g)
                       + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(g + x * m)))


def main():
    model, path = sys.argv[1], sys.argv[2]
    df = pd.read_csv(path)
    x = col(df, "frequency", "frequency_cal")
    tx = col(df, "recency", "recency_cal")
    T = col(df, "T", "T_cal", "periods")
    m = col(df, "monetary_value", "monetary_value_cal")
    w0 = col(df, "weights")
    if w0 is None:
        w0 = np.ones_like(x)
    t0 = time.perf_counter()
    c0 = time.process_time()
    if model == "gg":
        keep = (x > 0) & (m > 0)
        data = np.column_stack([x[keep], m[keep]])
        w0 = w0[keep]
    else:
        data = np.column_stack([x, tx, T])
    if len(sys.argv) > 3 and sys.argv[3] == "raw":
        u, w = data, w0
    else:
        u, inv = np.unique(data, axis=0, return_inverse=True)
        w = np.bincount(inv.ravel(), weights=w0)
    cols = [u[:, k] for k in range(u.shape[1])]
    meanT = float(np.sum(w0 * T) / np.sum(w0)) if model != "gg" else 1.0
    if model == "bgnbd":
        f, start = ll_bgnbd, [1, 0.2 * meanT, 1, 1]
    elif model == "mbgnbd":
        f, start = ll_mbgnbd, [1, 0.2 * meanT, 1, 1]
    elif model == "pnbd":
        f, start = ll_pnbd, [1, 0.5 * meanT, 1, 0.5 * meanT]
    elif model == "bgbb":
        f, start = ll_bgbb, [1, 1, 1, 1]
    elif model == "gg":
        mm = float(np.sum(w * cols[1]) / np.sum(w))
        f, start = ll_gg, [2, 3, mm * 2 / 2]
    else:
        raise SystemExit("unknown model " + model)
    W = np.sum(w)

    def obj(th):
        v = f(np.exp(th), *cols, w)
        return -v / W if np.isfinite(v) else 1e10

    res = minimize(obj, np.log(start), method="L-BFGS-B")
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    p = np.exp(res.x)
    print("model=%s n=%d seconds=%.3f loglik=%.4f params=%s success=%s nit=%d cpu=%.3f"
          % (model, int(W), secs, -res.fun * W, ",".join("%.5g" % v for v in p),
             res.success, res.nit, cpu))


if __name__ == "__main__":
    main()
