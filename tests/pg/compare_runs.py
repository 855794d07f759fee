#!/usr/bin/env python3
"""compare_runs.py DIR1 DIR2 REL - two `tessera analyze` output folders
agree: every CSV file has the same header and rows, text fields equal,
numbers within REL relative (summary columns of customers.csv within 1e-12:
the in-database path adds a day's amounts exactly, the file path in file
order, so only the last bit may differ), and the model JSON parameters
within REL. Prints the first difference per file; exit 1 on any."""
import csv, json, os, sys
a, b, rel = sys.argv[1], sys.argv[2], float(sys.argv[3])
bad = 0
def close(u, v, tol):
    if u == v: return True
    try: x, y = float(u), float(v)
    except ValueError: return False
    return abs(x - y) <= tol * max(1.0, abs(x))
for f in sorted(os.listdir(a)):
    p, q = os.path.join(a, f), os.path.join(b, f)
    if not os.path.exists(q): print("missing", f); bad += 1; continue
    if f.endswith(".csv") and f != "rejects.csv":
        ra, rb = list(csv.reader(open(p))), list(csv.reader(open(q)))
        if len(ra) != len(rb) or ra[0] != rb[0]: print(f, "rows or header differ"); bad += 1; continue
        for i, (x, y) in enumerate(zip(ra, rb)):
            tol = 1e-12 if f == "customers.csv" else rel
            for j, (u, v) in enumerate(zip(x, y)):
                t = rel if f == "customers.csv" and ra[0][j].startswith(("expected", "p_alive", "clv")) else tol
                if not close(u, v, t):
                    print(f, "line", i + 1, ra[0][j], u, v); bad += 1; break
    elif f.endswith(".json") and f != "run.json":
        ja, jb = json.load(open(p)), json.load(open(q))
        pa, pb = ja.get("params", {}), jb.get("params", {})
        if sorted(pa) != sorted(pb) or any(not close(pa[k], pb[k], rel) for k in pa):
            print(f, "params differ", pa, pb); bad += 1
sys.exit(1 if bad else 0)
