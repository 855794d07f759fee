#!/usr/bin/env python3
"""Precision@k and recall of `tessera anomalies --all` output against the
truth (transaction_id column; every listed transaction is an anomaly).

usage: eval_anomalies.py SCORES.csv TRUTH.csv [MIN_SCORE] [MIN_PREC_AT_K MIN_RECALL]
k = the number of true anomalies; recall = share of true anomalies with
score >= MIN_SCORE (default 3.5). Exits 1 below the minimums.
"""
import csv
import sys
from collections import Counter


def main():
    rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
    truth = {r["transaction_id"]: r.get("kind", "") for r in csv.DictReader(open(sys.argv[2], newline=""))}
    thr = float(sys.argv[3]) if len(sys.argv) > 3 else 3.5
    k = len(truth)
    top = rows[:k]
    p_at_k = sum(r["transaction_id"] in truth for r in top) / k if k else 1.0
    flagged = [r for r in rows if float(r["score"]) >= thr]
    hit = {r["transaction_id"] for r in flagged if r["transaction_id"] in truth}
    recall = len(hit) / k if k else 1.0
    prec = len(hit) / len(flagged) if flagged else 1.0
    by_kind = Counter(truth.values())
    found = Counter(truth[t] for t in hit)
    print("anomalies=%d k=%d precision_at_k=%.4f flagged=%d precision_flagged=%.4f recall=%.4f %s" % (
        k, k, p_at_k, len(flagged), prec, recall,
        " ".join("recall_%s=%.3f" % (kd, found[kd] / by_kind[kd]) for kd in sorted(by_kind))))
    if len(sys.argv) > 5 and (p_at_k < float(sys.argv[4]) or recall < float(sys.argv[5])):
        sys.exit(1)


if __name__ == "__main__":
    main()
