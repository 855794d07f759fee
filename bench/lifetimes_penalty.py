#!/usr/bin/env python3
"""lifetimes_penalty.py - issue 10 item 4: tessera's penalized BG/NBD fit
against lifetimes' own penalized objective, evaluated with numpy/scipy
(lifetimes itself is not needed; its objective is restated below).

lifetimes (BetaGeoFitter._negative_log_likelihood and utils._scale_time)
fits on times scaled by 1 / max(T) and minimises

    -sum_i w_i LL_i / sum_i w_i + penalizer * (r^2 + alpha_s^2 + a^2 + b^2)

with alpha_s = alpha / max(T) (alpha in the scaled unit); it reports alpha
back in the data's unit. Early lifetimes versions scaled by 10 / max(T).

    python3 bench/lifetimes_penalty.py SUMMARY.csv [TESSERA]

prints the optimum under both scalings (and without scaling); with TESSERA,
also runs `TESSERA fit --model bgnbd --penalizer 0.001` and exits 1 unless
its r, alpha, a, b equal the 1/max(T) optimum to 1e-4 (relative).
On tests/data/cdnow/cdnow_customers_summary.csv: r = 0.2428 (the 0.243
quoted for lifetimes), a = 0.4984, b = 1.3232; 10/max(T) gives r = 0.2382.
"""
import json
import subprocess
import sys

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln

PEN = 0.001


def nll(lp, x, tx, T, w, pen):
    r, al, a, b = np.exp(lp)
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(al)
    A2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    A3 = -(r + x) * np.log(al + T)
    A4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(tx + al)
    ll = w * (A1 + A2 + np.log(np.exp(A3) + np.exp(A4) * (x > 0)))
    return -ll.sum() / w.sum() + pen * np.sum(np.exp(lp) ** 2)


def fit(x, tx, T, sc):
    w = np.ones_like(x)
    args = (x, tx * sc, T * sc, w, PEN)
    res = minimize(nll, 0.1 * np.ones(4), args=args, method="Nelder-Mead",
                   options=dict(xatol=1e-10, fatol=1e-14, maxiter=20000, maxfev=40000))
    res = minimize(nll, res.x, args=args, method="L-BFGS-B", tol=1e-14)
    p = np.exp(res.x)
    p[1] /= sc
    return p


def main():
    d = np.genfromtxt(sys.argv[1], delimiter=",", names=True)
    x, tx, T = d["frequency"], d["recency"], d["T"]
    ref = None
    for name, sc in (("1/max(T) (lifetimes)", 1 / T.max()),
                     ("10/max(T) (early lifetimes)", 10 / T.max()), ("unscaled", 1.0)):
        p = fit(x, tx, T, sc)
        ref = p if ref is None else ref
        print("%-28s r=%.6f alpha=%.6f a=%.6f b=%.6f" % ((name,) + tuple(p)))
    if len(sys.argv) > 2:
        out = subprocess.run([sys.argv[2], "fit", "--model", "bgnbd", "--penalizer", str(PEN),
                              "-q", sys.argv[1]], capture_output=True, text=True)
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return 1
        m = json.loads(out.stdout)["params"]
        t = np.array([m["r"], m["alpha"], m["a"], m["b"]])
        rel = np.max(np.abs(t / ref - 1))
        print("%-28s r=%.6f alpha=%.6f a=%.6f b=%.6f (max relative difference %.1e)"
              % (("tessera",) + tuple(t) + (rel,)))
        return 0 if rel <= 1e-4 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
