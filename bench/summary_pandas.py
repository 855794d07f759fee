#!/usr/bin/env python3
"""Peer for bench/bench_summary.sh: the pandas groupby equivalent of lifetimes'
summary_data_from_transaction_data (freq D), written as a user would.

usage: summary_pandas.py TX.csv OUT.csv [customer_col date_col amount_col]
Prints the elapsed seconds (read + compute + write) on stdout."""
import sys
import time

import numpy as np
import pandas as pd


def summary(df, cust, date, amount):
    df = df[[cust, date, amount]].copy()
    df[date] = pd.to_datetime(df[date], utc=True).dt.tz_localize(None)
    df = df[df[amount] >= 0]
    df["day"] = df[date].dt.floor("D")
    end = df["day"].max()
    per = df.groupby([cust, "day"], sort=False, as_index=False)[amount].sum()
    per = per.sort_values([cust, "day"], kind="stable")
    first = per.groupby(cust, sort=False)["day"].transform("min")
    per["is_first"] = per["day"] == first
    g = per.groupby(cust, sort=True)
    out = pd.DataFrame({
        "frequency": g.size() - 1,
        "recency": (g["day"].max() - g["day"].min()) / np.timedelta64(1, "D"),
        "T": (end - g["day"].min()) / np.timedelta64(1, "D"),
    })
    rep = per[~per["is_first"]].groupby(cust)[amount].mean()
    out["monetary_value"] = rep.reindex(out.index).fillna(0.0)
    return out


def main():
    path, out = sys.argv[1], sys.argv[2]
    cust, date, amount = (sys.argv[3:6] if len(sys.argv) >= 6 else ("customer_id", "timestamp", "amount"))
    t0 = time.perf_counter()
    df = pd.read_csv(path, dtype={cust: str})
    s = summary(df, cust, date, amount)
    s.index.name = "customer_id"
    s.to_csv(out, float_format="%.10g")
    print(f"{time.perf_counter() - t0:.3f}")


if __name__ == "__main__":
    main()
