#!/usr/bin/python3
"""Benchmark of `tessera cluster` against scikit-learn (Debian python3-sklearn).

usage: cluster_sklearn.py TESSERA_BINARY [WORKDIR]
env:   BENCH_N          customers (default 1000000)
       BENCH_K          clusters (default 8)
       BENCH_SK_DBSCAN_N  rows given to sklearn's DBSCAN (default min(N, 200000):
                        its neighbourhood lists need O(n * neighbours) memory)
       BENCH_SEED       data seed (default 1)

Simulated customers: 4 features (log-scale frequency, recency, monetary value,
tenure) drawn from 8 Gaussian segments of random means and covariances. The
same CSV is given to tessera (--transform none, so both see the same numbers)
and, already parsed, to scikit-learn: tessera's times include reading the CSV.
Prints inertia / BIC of both, the adjusted Rand index between the two
labelings and the time ratios sklearn / tessera: wall-clock of the fits
(tessera's from its summary: transform + fit, without the CSV parse, the
silhouette and the profiles), wall-clock of the whole tessera command, and
CPU seconds (all threads; robust when the machine is shared).
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.cluster import DBSCAN, KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

FEATS = ["log_frequency", "log_recency", "log_monetary", "log_T"]


def simulate(n, seed):
    rng = np.random.default_rng(seed)
    k = 8
    means = rng.uniform(-4, 4, size=(k, 4))
    X = np.empty((n, 4))
    comp = rng.integers(0, k, size=n)
    for j in range(k):
        idx = np.flatnonzero(comp == j)
        A = rng.normal(0, 0.35, size=(4, 4)) + np.eye(4) * 0.4
        X[idx] = means[j] + rng.standard_normal((idx.size, 4)) @ A.T
    return X, comp


def write_csv(path, X):
    ids = np.arange(1, X.shape[0] + 1)
    with open(path, "w") as f:
        f.write("customer_id," + ",".join(FEATS) + "\n")
        np.savetxt(f, np.column_stack([ids, X]), delimiter=",",
                   fmt=["%d"] + ["%.10g"] * 4)


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_self():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


LAST_CPU = {}


def run_tessera(binary, csv, args, out_csv, summary):
    cmd = [binary, "cluster", csv] + args + ["--features", ",".join(FEATS),
                                        "--transform", "none", "--quiet",
                                        "-o", out_csv, "--summary-out", summary]
    c0 = cpu_children()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    dt = time.perf_counter() - t0
    LAST_CPU["tessera"] = cpu_children() - c0
    with open(summary) as f:
        s = json.load(f)
    labels = np.loadtxt(out_csv, delimiter=",", skiprows=1, usecols=1, dtype=np.int64)
    return dt, s, labels


def fit_seconds(s):
    t = s["seconds"]
    return t["transform"] + t["fit"]


def row(name, t_sk, t_ts, s, a_sk, a_ts, ari, what, cpu_sk):
    t_fit = fit_seconds(s)
    rel = (a_ts - a_sk) / abs(a_sk)
    cmp = "equal" if abs(rel) <= 1e-9 else ("<=" if rel < 0 else ">")
    print(f"{name:<7} {what:<7} sklearn {a_sk:.6f}  tessera {a_ts:.6f}  ({cmp}, rel {rel:+.2e}) "
          f"ARI {ari:.5f}\n        time sklearn fit {t_sk:.2f}s | tessera fit {t_fit:.2f}s "
          f"(x{t_sk / t_fit:.1f}), whole command incl. CSV parse + silhouette + profiles "
          f"{t_ts:.2f}s (x{t_sk / t_ts:.1f})\n        CPU seconds (user+sys, all threads): sklearn fit "
          f"{cpu_sk:.2f} | tessera whole command {LAST_CPU['tessera']:.2f} "
          f"(x{cpu_sk / LAST_CPU['tessera']:.1f}), tessera fit {s['seconds']['cpu_fit']:.2f} "
          f"(x{cpu_sk / s['seconds']['cpu_fit']:.1f})")


def main():
    binary = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="bench_cluster_")
    n = int(os.environ.get("BENCH_N", "1000000"))
    k = int(os.environ.get("BENCH_K", "8"))
    seed = int(os.environ.get("BENCH_SEED", "1"))
    n_db = int(os.environ.get("BENCH_SK_DBSCAN_N", str(min(n, 200000))))
    X, _ = simulate(n, seed)
    csv = os.path.join(work, "customers.csv")
    write_csv(csv, X)
    X = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4))
    print(f"n = {n}, d = 4, k = {k}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start")

    # ---------------------------------------------------------- k-means
    c0 = cpu_self()
    t0 = time.perf_counter()
    km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(X)
    t_sk = time.perf_counter() - t0
    cpu_sk = cpu_self() - c0
    t_ts, s, lab = run_tessera(binary, csv, ["--method", "kmeans", "--k", str(k), "--n-init", "10",
                                        "--seed", "0"], os.path.join(work, "km.csv"),
                               os.path.join(work, "km.json"))
    row("kmeans", t_sk, t_ts, s, km.inertia_, s["inertia"],
        adjusted_rand_score(km.labels_, lab), "inertia", cpu_sk)

    # -------------------------------------------------------------- GMM
    c0 = cpu_self()
    t0 = time.perf_counter()
    gm = GaussianMixture(n_components=k, covariance_type="full", random_state=0).fit(X)
    gl = gm.predict(X)
    t_sk = time.perf_counter() - t0
    cpu_sk = cpu_self() - c0
    bic_sk = gm.bic(X)
    t_ts, s, lab = run_tessera(binary, csv, ["--method", "gmm", "--k", str(k), "--seed", "0"],
                               os.path.join(work, "gmm.csv"), os.path.join(work, "gmm.json"))
    row("gmm", t_sk, t_ts, s, bic_sk, s["bic"], adjusted_rand_score(gl, lab), "BIC", cpu_sk)
    print(f"         sklearn iterations {gm.n_iter_}, tessera iterations {s['n_iter']}")

    # ----------------------------------------------------------- DBSCAN
    eps, ms = 0.25, 10
    sub = os.path.join(work, "sub.csv")
    write_csv(sub, X[:n_db])
    c0 = cpu_self()
    t0 = time.perf_counter()
    db = DBSCAN(eps=eps, min_samples=ms).fit(X[:n_db])
    t_sk = time.perf_counter() - t0
    cpu_sk = cpu_self() - c0
    t_ts, s, lab = run_tessera(binary, csv, ["--method", "dbscan", "--eps", str(eps),
                                        "--min-samples", str(ms)],
                               os.path.join(work, "dbsub.csv"), os.path.join(work, "dbsub.json"))
    cpu_db_full = LAST_CPU["tessera"]
    # the same subset for the comparison with sklearn
    t_ts_sub, s_sub, lab_sub = run_tessera(binary, sub, ["--method", "dbscan", "--eps", str(eps),
                                                     "--min-samples", str(ms)],
                                       os.path.join(work, "dbsub2.csv"),
                                       os.path.join(work, "dbsub2.json"))
    print(f"dbscan   eps {eps} min_samples {ms} on {n_db} rows: sklearn {t_sk:.2f}s "
          f"({len(set(db.labels_)) - (1 if -1 in db.labels_ else 0)} clusters, "
          f"{int(np.sum(db.labels_ < 0))} noise), tessera {t_ts_sub:.2f}s, "
          f"ARI {adjusted_rand_score(db.labels_, lab_sub):.5f}, "
          f"same noise points {bool(np.array_equal(db.labels_ < 0, lab_sub < 0))}, "
          f"tessera fit {fit_seconds(s_sub):.2f}s (x{t_sk / fit_seconds(s_sub):.1f}); CPU seconds "
          f"sklearn {cpu_sk:.2f}, tessera whole command {LAST_CPU['tessera']:.2f}, tessera fit "
          f"{s_sub['seconds']['cpu_fit']:.2f} (x{cpu_sk / s_sub['seconds']['cpu_fit']:.1f})")
    print(f"dbscan   on all {n} rows: tessera fit {fit_seconds(s):.2f}s, whole command {t_ts:.2f}s "
          f"({cpu_db_full:.2f} CPU s; fit {s['seconds']['cpu_fit']:.2f} CPU s) "
          f"({s['k']} clusters, {s['n_noise']} noise)")
    t_ts2, s2, _ = run_tessera(binary, csv, ["--method", "dbscan", "--eps", "auto", "--min-samples",
                                        str(ms)], os.path.join(work, "dba.csv"),
                               os.path.join(work, "dba.json"))
    print(f"dbscan   --eps auto on all {n} rows: tessera fit {fit_seconds(s2):.2f}s, "
          f"whole command {t_ts2:.2f}s ({LAST_CPU['tessera']:.2f} CPU s; fit "
          f"{s2['seconds']['cpu_fit']:.2f} CPU s) (eps {s2['eps']:.4f}, "
          f"{s2['k']} clusters, {s2['n_noise']} noise)")
    # the same file through the CSV reader alone, for reference
    t0 = time.perf_counter()
    subprocess.run([binary, "cluster", csv, "--k", "1", "--n-init", "1", "--features",
                    ",".join(FEATS), "--transform", "none", "--quiet", "-o", "/dev/null"],
                   check=True)
    print(f"reading the CSV + a trivial k=1 fit: {time.perf_counter() - t0:.2f}s")


if __name__ == "__main__":
    main()
