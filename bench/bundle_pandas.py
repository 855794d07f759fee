"""The peer of bench_bundle.sh: the profile aggregations of tessera analyze
DIR in pandas (per customer: CRM columns, transactions count/sum/digital
share, interactions count, product events replayed to holdings)."""
import sys
import pandas as pd

d, out = sys.argv[1], sys.argv[2]
cu = pd.read_csv(f"{d}/customers.csv", parse_dates=["birth_date", "join_date"])
tx = pd.read_csv(f"{d}/transactions.csv", usecols=["customer_id", "timestamp", "amount", "channel"])
it = pd.read_csv(f"{d}/interactions.csv", usecols=["customer_id", "timestamp"])
pe = pd.read_csv(f"{d}/products_events.csv")
today = pd.to_datetime(tx["timestamp"].max()).tz_localize(None).normalize() + pd.Timedelta(days=1)
tx["digital"] = tx["channel"].isin(["web", "mobile"])
g = tx.groupby("customer_id").agg(transactions=("amount", "size"), revenue=("amount", "sum"),
                                  digital_share=("digital", "mean"))
ic = it.groupby("customer_id").size().rename("service_contacts")
pe = pe.sort_values(["customer_id", "product", "date"])
last = pe.groupby(["customer_id", "product"]).tail(1)
held = last[last["event"] == "open"].groupby("customer_id")["product"].agg(";".join).rename("products")
p = cu.set_index("customer_id")
p["age"] = (today - p["birth_date"]).dt.days / 365.2425
p = p.join(g, how="outer").join(ic, how="left").join(held, how="left")
p.to_csv(out)
