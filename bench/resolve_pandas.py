#!/usr/bin/env python3
"""The peer of `tessera resolve` a pandas user would write: exact-key
deduplication on (casefolded, accent-stripped name, birth date), the first
record of each group as canonical. Writes the same mapping columns.

usage: resolve_pandas.py CUSTOMERS.csv MAPPING.csv
"""
import sys
import unicodedata

import pandas as pd


def fold(s):
    s = unicodedata.normalize("NFKD", str(s))
    return " ".join("".join(c for c in s if not unicodedata.combining(c)).lower().split())


def main():
    df = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
    key = df["name"].map(fold) + "|" + df["birth_date"]
    first = df.groupby(key, sort=False)["customer_id"].transform("first")
    out = pd.DataFrame({"customer_id": df["customer_id"], "resolved_id": first, "score": 1.0, "reasons": ""})
    out.to_csv(sys.argv[2], index=False)


if __name__ == "__main__":
    main()
