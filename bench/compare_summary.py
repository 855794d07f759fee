#!/usr/bin/env python3
"""Compares two per-customer summaries (customer_id,frequency,recency,T,
monetary_value): same customers, frequency/recency/T exactly, monetary_value
within a relative tolerance (default 1e-6). Used by bench/bench_summary.sh.

usage: compare_summary.py A.csv B.csv [REL_TOL]   exit 0 when equal"""
import csv
import sys


def load(path):
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        return {row["customer_id"]: row for row in r}


def main():
    a, b = load(sys.argv[1]), load(sys.argv[2])
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-6
    bad = 0
    if a.keys() != b.keys():
        print(f"customers differ: {len(a)} vs {len(b)}, "
              f"{len(a.keys() - b.keys())} only in A, {len(b.keys() - a.keys())} only in B")
        return 1
    for k, x in a.items():
        y = b[k]
        for col in ("frequency", "recency", "T"):
            if float(x[col]) != float(y[col]):
                bad += 1
                if bad <= 5:
                    print(f"{k}: {col} {x[col]} vs {y[col]}")
        m, n = float(x["monetary_value"]), float(y["monetary_value"])
        if abs(m - n) > tol * max(abs(m), abs(n), 1e-12):
            bad += 1
            if bad <= 5:
                print(f"{k}: monetary_value {m} vs {n}")
    print(f"{len(a)} customers, {bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
