#!/usr/bin/env python3
"""API tests of the index of a run's files (server/findex.c), run by ctest:
    test_view_files.py TESSERA_BINARY BUILD_DIR
The customer view, message preview and at-risk list read churn.csv, nbp.csv,
goals.csv and graph.csv through a shared index: the answers equal those of a
server reading the files whole (TESSERA_VIEW_INDEX_MB=0) for every customer,
duplicate and malformed rows, merged records and households; a customer whose
rows come after row 2,000,000 of nbp.csv gets them (with the index, and when the
file is over the memory bound and scanned); a changed file is read again;
concurrent first requests agree; /metrics counts index reads and builds; the
churn and next-best-products API read the same index.
Standard library only."""
import csv
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, add_users, check, finish, request, run, temp_dir, user_token  # noqa: E402


def server(db, mb=None):
    if mb is None:
        harness.ENV.pop("TESSERA_VIEW_INDEX_MB", None)
    else:
        harness.ENV["TESSERA_VIEW_INDEX_MB"] = str(mb)
    try:
        return Server(db)
    finally:
        harness.ENV.pop("TESSERA_VIEW_INDEX_MB", None)


def write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def metric(port, tok, name):
    st, _, raw, _ = request(port, "GET", "/metrics", token=tok)
    for line in raw.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return -1


def main():
    tmp = temp_dir("viewfiles")
    db = os.path.join(tmp, "web.db")
    add_users(db, (("ana", "analyst"),))
    tok = user_token(db, "ana")
    tx, out = os.path.join(tmp, "tx.csv"), os.path.join(tmp, "out")
    run("simulate", "--customers", "120", "--seed", "5", "-o", tx)
    run("analyze", tx, "-o", out, "--db", db)
    with open(os.path.join(out, "customers.csv"), newline="") as f:
        cust = [r["customer_id"] for r in csv.DictReader(f)]
    c = cust
    check(len(c) >= 112, "the run has its customers", len(c))
    late = c[110]
    # churn.csv: a customer twice (the view takes the first row, at risk the
    # last with a probability), a malformed record, a row without probability,
    # a reason that is long and not in file order of customers
    churn = [[x, "%.3f" % ((i * 37 % 100) / 100.0), "reason %d" % i, "second" if i % 3 else "", ""]
             for i, x in enumerate(c[:100])]
    churn.insert(5, [c[3], "0.99", "duplicate, later", "", ""])
    churn.insert(10, [c[7], "", "no probability", "", ""])
    churn.append([late, "0.97", "é" * 150, "", ""])
    write(os.path.join(out, "churn.csv"), ["customer_id", "churn_probability", "reason_1", "reason_2", "reason_3"],
          churn)
    with open(os.path.join(out, "churn.csv"), "a") as f:
        f.write('%s,"0.5,broken\n' % c[2])  # unbalanced quote: one bad record to the end
    # nbp.csv: ranks out of order, a customer's rows apart
    nbp_path = os.path.join(out, "nbp.csv")
    with open(nbp_path, "w") as f:
        f.write("customer_id,rank,product,score,reason\n")
        for x in c[:60]:
            f.write("%s,2,savings,0.4,similar\n%s,1,card,0.7,model\n" % (x, x))
        f.write("%s,3,loan,0.2,late row\n" % c[0])
    write(os.path.join(out, "goals.csv"), ["customer_id", "home", "retirement", "saving", "travel", "business_growth"],
          [[x, "0.%02d" % (i % 100), "0.1", "", "x", "0.5"] for i, x in enumerate(c[:90])] + [[c[4], "1", "1", "1", "1", "1"]])
    # graph.csv: c[20] has merged records r1, r2 (same_person) and is in
    # household h1 with c[21], c[22]; r1 itself is asked for
    write(os.path.join(out, "graph.csv"), ["source", "target", "type"],
          [["r1", c[20], "same_person"], [c[21], "h1", "member_of"], ["r2", c[20], "same_person"],
           [c[20], "h1", "member_of"], [c[22], "h1", "member_of"], [c[30], "h2", "member_of"],
           [c[30], c[30], "same_person"]])
    asked = c[:40] + c[100:] + ["r1", "nobody"]
    gets = ["/api/v1/runs/1/customers/%s/view" % x for x in asked]
    gets += ["/api/v1/runs/1/at-risk?limit=%d" % n for n in (1, 7, 100)]
    gets += ["/api/v1/customers/%s/%s" % (x, w) for x in asked[:30] + [late, "r1"]
             for w in ("churn", "next-best-products")]
    posts = ["/api/v1/runs/1/customers/%s/message" % x for x in c[:12] + [late]]

    def answers(port):
        res = [request(port, "GET", p, token=tok)[2] for p in gets]
        res += [request(port, "POST", p, body={"channel": "email"}, token=tok)[2] for p in posts]
        return res

    with server(db, 0) as plain:
        want = answers(plain.port)
        check(metric(plain.port, tok, 'tessera_view_files_lookups_total{how="index"}') == 0,
              "TESSERA_VIEW_INDEX_MB=0: no index")
    with server(db) as srv:
        # concurrent first requests while the index is built
        got = [None] * 6
        def worker(k):
            got[k] = request(srv.port, "GET", gets[1], token=tok)[2]
        ts = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        check(all(g == want[1] for g in got), "concurrent first requests agree")
        have = answers(srv.port)
        diff = [gets[i] if i < len(gets) else posts[i - len(gets)] for i in range(len(want)) if want[i] != have[i]]
        check(not diff, "indexed answers equal those of whole-file reads (%d requests)" % len(want), diff[:5])
        st, v, _, _ = request(srv.port, "GET", "/api/v1/runs/1/customers/%s/view" % c[0], token=tok)
        check([p["product"] for p in v["next_best_products"]] == ["card", "savings", "loan"],
              "rows of a customer apart in the file, by rank", v and v["next_best_products"])
        st, v, _, _ = request(srv.port, "GET", "/api/v1/customers/%s/next-best-products" % c[0], token=tok)
        check(st == 200 and [p["product"] for p in v["products"]] == ["savings", "card"],
              "next-best-products API: the first consecutive rows of a customer", v)
        st, v, _, _ = request(srv.port, "GET", "/api/v1/customers/%s/churn" % c[3], token=tok)
        check(st == 200 and v["churn_probability"] == 0.11, "churn API: the first row of a customer", v)
        st, v, _, _ = request(srv.port, "GET", "/api/v1/runs/1/customers/%s/view" % c[3], token=tok)
        check(v["churn"]["probability"] == 0.11 and v["churn"]["reasons"] == ["reason 3"],
              "a repeated customer: the view shows the first row", v and v["churn"])
        st, v, _, _ = request(srv.port, "GET", "/api/v1/runs/1/customers/%s/view" % c[4], token=tok)
        check(v["goals"]["home"] == 0.04 and v["goals"]["saving"] is None, "goals of the first row", v and v["goals"])
        st, v, _, _ = request(srv.port, "GET", "/api/v1/runs/1/customers/r1/view", token=tok)
        st, v, _, _ = request(srv.port, "GET", "/api/v1/runs/1/customers/%s/view" % c[20], token=tok)
        check(v["household"] == {"household": "h1", "members": [c[21], c[20], c[22]], "records": ["r1", "r2"],
                                 "same_person_as": None}, "household and merged records from graph.csv",
              v and v["household"])
        st, v, _, _ = request(srv.port, "GET", "/api/v1/runs/1/at-risk?limit=100", token=tok)
        top = {x["customer_id"]: x for x in v["customers"]}
        check(v["source"] == "churn_model" and top.get(c[3], {}).get("churn_probability") == 0.99
              and top[c[3]]["reason"] == "duplicate, later", "at risk: the last row of a repeated customer", top.get(c[3]))
        check(top.get(late, {}).get("reason") == "é" * 99, "at risk: a long reason cut on a character",
              top.get(late, {}).get("reason"))
        check(metric(srv.port, tok, 'tessera_view_files_lookups_total{how="index"}') > 0
              and metric(srv.port, tok, 'tessera_view_files_builds_total{outcome="ready"}') == 4
              and metric(srv.port, tok, "tessera_view_files_indexed") == 4
              and metric(srv.port, tok, "tessera_view_files_index_bytes") > 0,
              "metrics: 4 files indexed once, their memory")
        # a changed file is indexed again
        write(os.path.join(out, "goals.csv"), ["customer_id", "home"], [[c[4], "0.25"]])
        st, v, _, _ = request(srv.port, "GET", "/api/v1/runs/1/customers/%s/view" % c[4], token=tok)
        check(v["goals"]["home"] == 0.25, "a changed file is read again", v and v["goals"])
        check(metric(srv.port, tok, 'tessera_view_files_builds_total{outcome="ready"}') == 5, "one more build")
        # over 2,000,000 rows in nbp.csv: c[1] only after them, c[0] also
        with open(nbp_path, "a") as f:
            f.write("filler,1,p,0.1,r\n" * 2000100)
            f.write("%s,2,pension,0.3,after 2M\n%s,1,mortgage,0.8,after 2M\n%s,4,fund,0.1,after 2M\n" % (c[1], c[1], c[0]))
        st, v, _, _ = request(srv.port, "GET", "/api/v1/runs/1/customers/%s/view" % c[1], token=tok)
        check(st == 200 and [p["product"] for p in v["next_best_products"]] == ["card", "mortgage", "savings", "pension"],
              "next best products after row 2,000,000 of nbp.csv", v and v["next_best_products"])
        st, v, _, _ = request(srv.port, "GET", "/api/v1/runs/1/customers/%s/view" % c[0], token=tok)
        check([p["product"] for p in v["next_best_products"]] == ["card", "savings", "loan", "fund"],
              "a customer's rows before and after row 2,000,000", v and v["next_best_products"])
        check(metric(srv.port, tok, "tessera_view_files_index_bytes") > 2000100 * 32, "the memory of a big index")
    with server(db, 40) as small:  # nbp.csv's index does not fit: scanned whole
        st, v, _, _ = request(small.port, "GET", "/api/v1/runs/1/customers/%s/view" % c[1], token=tok)
        check(st == 200 and [p["product"] for p in v["next_best_products"]] == ["card", "mortgage", "savings", "pension"],
              "over the memory bound: the file is scanned, past row 2,000,000 too", v and v["next_best_products"])
        check(metric(small.port, tok, 'tessera_view_files_builds_total{outcome="too_big"}') == 1
              and metric(small.port, tok, 'tessera_view_files_lookups_total{how="scan"}') >= 1,
              "metrics: the file over the bound", metric(small.port, tok, 'tessera_view_files_builds_total{outcome="too_big"}'))
        request(small.port, "GET", "/api/v1/runs/1/customers/%s/view" % c[1], token=tok)
        check(metric(small.port, tok, 'tessera_view_files_builds_total{outcome="too_big"}') == 1,
              "a file over the bound is not indexed again")
    # an invalid bound is said on stderr and the default used (the view still answers)
    srv = server(db, "lots")
    with srv:
        st, v, _, _ = request(srv.port, "GET", "/api/v1/runs/1/customers/%s/view" % c[0], token=tok)
        check(st == 200, "view with TESSERA_VIEW_INDEX_MB=lots", st)
    check("TESSERA_VIEW_INDEX_MB=lots is not a whole number" in srv.err,
          "an invalid TESSERA_VIEW_INDEX_MB is said", srv.err[-300:])
    finish("all view file checks passed")


if __name__ == "__main__":
    main()
