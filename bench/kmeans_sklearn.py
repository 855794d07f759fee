#!/usr/bin/python3
"""The scikit-learn side of the k-means row of bench/perf_table.sh.

usage: kmeans_sklearn.py gen N D SEED OUT.csv     writes the data set
       kmeans_sklearn.py fit IN.csv K N_INIT      fits, prints one line:
           seconds=.. cpu=.. inertia=..
Data: N points in D dimensions from 8 Gaussian blobs of random centres and
spreads (seeded numpy generator), one id column and columns f1..fD.
seconds and cpu: the fit alone (KMeans(k, n_init, random_state=0).fit),
after the CSV is parsed.
"""
import resource
import sys
import time

import numpy as np


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def gen(n, d, seed, out):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-5, 5, size=(8, d))
    spread = rng.uniform(0.3, 1.5, size=8)
    comp = rng.integers(0, 8, size=n)
    X = centres[comp] + rng.standard_normal((n, d)) * spread[comp, None]
    with open(out, "w") as f:
        f.write("customer_id," + ",".join(f"f{j + 1}" for j in range(d)) + "\n")
        np.savetxt(f, np.column_stack([np.arange(1, n + 1), X]), delimiter=",",
                   fmt=["%d"] + ["%.10g"] * d)


def fit(path, k, n_init):
    from sklearn.cluster import KMeans
    X = np.loadtxt(path, delimiter=",", skiprows=1)[:, 1:]
    c0, t0 = cpu(), time.perf_counter()
    km = KMeans(n_clusters=k, n_init=n_init, random_state=0).fit(X)
    print(f"seconds={time.perf_counter() - t0:.3f} cpu={cpu() - c0:.3f} "
          f"inertia={km.inertia_:.10g}")


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        fit(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
