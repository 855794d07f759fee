#!/usr/bin/env python3
"""compare.py BATCH_customers.csv LIVE.csv: every customer of the batch run
(tessera analyze's customers.csv) has the same summary, scores, segment and
cluster in the live profiles (tessera profile --all), numbers to 1e-9
relative; the live side has no extra customer."""
import csv, math, sys

NUM = ["frequency", "recency", "T", "monetary_value", "revenue", "expected_purchases", "p_alive", "clv"]
EXACT = ["n_transactions", "active_days", "first_purchase", "last_purchase", "refunds",
         "r_score", "f_score", "m_score", "rfm_cell", "segment", "cluster"]

batch = {r["customer_id"]: r for r in csv.DictReader(open(sys.argv[1]))}
live = {r["customer_id"]: r for r in csv.DictReader(open(sys.argv[2]))}
bad = 0
if set(batch) != set(live):
    print("customers differ: batch-only %d, live-only %d" % (len(set(batch) - set(live)), len(set(live) - set(batch))))
    bad += 1
for cid, b in batch.items():
    l = live.get(cid)
    if l is None:
        continue
    for k in NUM:
        x, y = b[k], l[k]
        if x == "" and y == "":
            continue
        x, y = float(x), float(y)
        if not abs(x - y) <= 1e-9 * max(1.0, abs(x)):
            bad += 1
            if bad < 10:
                print("%s %s: batch %r live %r" % (cid, k, x, y))
    for k in EXACT:
        if b[k] != l[k]:
            bad += 1
            if bad < 10:
                print("%s %s: batch %r live %r" % (cid, k, b[k], l[k]))
print("%d customers compared, %d differences" % (len(batch), bad))
sys.exit(1 if bad else 0)
