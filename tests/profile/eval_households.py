#!/usr/bin/env python3
"""Household pair precision and recall of a `tessera resolve --graph` file
against the truth of `tessera simulate --bundle --latent` (records.csv).

usage: eval_households.py GRAPH.csv RECORDS.csv
A found pair is two persons (member_of sources) with one household target;
a true pair is two persons (one primary record each) with one household_id.
Recall can exceed 1 slightly: a person left split over two records counts
twice among the found pairs.
"""
import csv
import sys
from collections import Counter


def pairs(k):
    return k * (k - 1) // 2


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    house, person = {}, {}
    with open(sys.argv[2], newline="") as f:
        for r in csv.DictReader(f):
            house[r["customer_id"]] = r["household_id"]
            person[r["customer_id"]] = r["person_id"]
    member = {}
    with open(sys.argv[1], newline="") as f:
        for r in csv.DictReader(f):
            if r["type"] == "member_of":
                member[r["source"]] = r["target"]
    found = sum(pairs(k) for k in Counter(member.values()).values())
    tp = sum(pairs(k) for k in Counter((member[p], house[p]) for p in member).values())
    primary = {}
    for c, p in person.items():
        primary.setdefault(p, c)
    true = sum(pairs(k) for k in Counter(house[c] for c in primary.values()).values())
    print("household pairs found=%d tp=%d precision=%.4f recall=%.4f (true %d)"
          % (found, tp, tp / found if found else 0, tp / true if true else 0, true))


if __name__ == "__main__":
    main()
