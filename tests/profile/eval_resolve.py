#!/usr/bin/env python3
"""Pairwise precision and recall of a `tessera resolve` mapping against the
truth of gen_people.py (or of `tessera simulate --bundle --latent`).

usage: eval_resolve.py MAPPING.csv TRUTH.csv [MIN_PRECISION MIN_RECALL]
TRUTH has customer_id and person_id columns. Prints
"pairs_true=.. pairs_found=.. precision=.. recall=.."; with the minimums,
exits 1 when either is not reached.
"""
import csv
import sys
from collections import Counter


def main():
    mapping, truth = sys.argv[1], sys.argv[2]
    person = {}
    with open(truth, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            person[r["customer_id"]] = r["person_id"]
    resolved = {}
    with open(mapping, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            resolved[r["customer_id"]] = r["resolved_id"]
    missing = [c for c in person if c not in resolved]
    if missing:
        sys.exit("eval_resolve: %d records of the truth are not in the mapping" % len(missing))
    c2 = lambda k: k * (k - 1) // 2
    cells = Counter((person[c], resolved[c]) for c in person)
    tp = sum(c2(k) for k in cells.values())
    true_pairs = sum(c2(k) for k in Counter(person.values()).values())
    found = sum(c2(k) for k in Counter(resolved[c] for c in person).values())
    prec = tp / found if found else 1.0
    rec = tp / true_pairs if true_pairs else 1.0
    print("records=%d pairs_true=%d pairs_found=%d true_positives=%d precision=%.4f recall=%.4f"
          % (len(person), true_pairs, found, tp, prec, rec))
    if len(sys.argv) > 4 and (prec < float(sys.argv[3]) or rec < float(sys.argv[4])):
        sys.exit(1)


if __name__ == "__main__":
    main()
