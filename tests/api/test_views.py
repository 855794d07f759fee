#!/usr/bin/env python3
"""API tests of the web views (server/api_views.c, server/pages_views.c), run by ctest:
    test_views.py TESSERA_BINARY BUILD_DIR
A first-time user is led to the upload; the run comparison (JSON and page) equals
`tessera migration`; customers at risk are ordered by churn probability x revenue
(from churn.csv when the run has one, else 1 - P(alive)); the customer view reads
churn.csv, nbp.csv (the files of docs/analyze.md, contract of `tessera analyze` on
a bundle) and the household of graph.csv; segment profiles equal
segment_profiles.csv; the message preview renders the templates within the
channel's limit and reports template errors by line and column; a password change
needs the current password, after which the old one stops working; every view needs
a login and every POST the CSRF token; output is escaped. Standard library only."""
import csv
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client as _Client, Server, add_users, check, finish, run, temp_dir, wait_job  # noqa: E402


class Client(_Client):
    def login(self, name, pw):
        return super().login(name, pw)[0]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_contract_files(out, customers):
    """churn.csv and nbp.csv as `tessera analyze` on a bundle writes them
    (docs/analyze.md); written here only when the run did not make them, so
    that the consumer side is tested with known values."""
    churn = os.path.join(out, "churn.csv")
    if not os.path.exists(churn):
        with open(churn, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["customer_id", "churn_probability", "reason_1", "reason_2", "reason_3"])
            for i, c in enumerate(customers):
                w.writerow([c, "%.4f" % ((i * 37 % 100) / 100.0), "no purchase for %d weeks" % (i % 30 + 1),
                            "fewer visits than before", "" if i % 2 else "one product only"])
    nbp = os.path.join(out, "nbp.csv")
    if not os.path.exists(nbp):
        with open(nbp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["customer_id", "rank", "product", "score", "reason"])
            for c in customers:
                w.writerow([c, 2, "savings_account", "0.41", "held by similar customers"])
                w.writerow([c, 1, "credit_card", "0.73", "propensity model"])
    goals = os.path.join(out, "goals.csv")
    if not os.path.exists(goals):
        with open(goals, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["customer_id", "home", "retirement", "saving", "travel", "business_growth"])
            for i, c in enumerate(customers):
                w.writerow([c, "%.4f" % ((i * 13 % 100) / 100.0), "0.0100", "0.2500", "0.0500", "0.0000"])


def main():
    tmp = temp_dir("views")
    db = os.path.join(tmp, "web.db")
    pw = "correct-horse-battery"
    add_users(db, (("ana", "analyst"), ("vic", "viewer")), pw)
    with Server(db) as srv:
        body(srv.port, tmp, db, pw)
    finish("all view checks passed")


def body(port, tmp, db, pw):
    ana = Client(port)
    check(ana.login("ana", pw) == 200, "login")
    # a first-time user (no dataset, no run) is led to the upload
    st, _, _, h = ana.req("GET", "/")
    check(st in (302, 303) and h.get("location") == "/datasets", "first visit goes to the upload", (st, h.get("location")))
    st, _, raw, _ = ana.req("GET", "/datasets")
    page = raw.decode()
    check('id="welcome"' in page and 'id="upload-form"' in page, "the datasets page welcomes a first-time user")
    m = re.search(r"Largest file: ([^.<]+(?:\.\d)?[^.<]*)\.", page)
    check(m is not None and re.search(r"\d (kB|MB|GB)$", m.group(1)), "the upload limit in human units", m and m.group(1))

    # two runs of the same customers (before and after more data) and a bundle run
    tx = os.path.join(tmp, "tx.csv")
    run("simulate", "--customers", "400", "--seed", "7", "-o", tx)
    run("analyze", tx, "--end", "2024-06-30", "-o", os.path.join(tmp, "o1"), "--db", db)
    run("analyze", tx, "-o", os.path.join(tmp, "o2"), "--db", db)
    bdir, bout = os.path.join(tmp, "bundle"), os.path.join(tmp, "bout")
    run("simulate", "--bundle", bdir, "--customers", "300", "--seed", "3")
    run("analyze", bdir, "-o", bout, "--db", db)
    st, js, _, _ = ana.req("GET", "/api/v1/runs")
    ids = sorted(r["id"] for r in js["runs"])
    check(len(ids) == 3, "three runs stored", ids)
    r1, r2, rb = ids[0], ids[1], ids[2]
    st, _, _, h = ana.req("GET", "/")
    check(h.get("location") == "/runs", "with runs the start page is the list of runs", h.get("location"))

    # ---- comparison = tessera migration
    for by in ("segment", "cluster"):
        cli = json_cli("migration", str(r1), str(r2), "--db", db, "--format", "json", "--by", by)
        st, js, _, _ = ana.req("GET", "/api/v1/runs/%d/compare/%d?by=%s" % (r1, r2, by))
        check(st == 200 and js["moves"] == cli["moves"] and js["by"] == by,
              "compare by %s equals tessera migration (%d moves)" % (by, len(cli["moves"])), st)
        stayed = sum(m["customers"] for m in cli["moves"] if m["from"] == m["to"])
        both = sum(m["customers"] for m in cli["moves"] if m["from"] != "(new)" and m["to"] != "(gone)")
        check(js["stayed"] == stayed and js["in_both"] == both, "compare totals (stayed, in both)", (js["stayed"], stayed))
    cli = json_cli("migration", str(r1), str(r2), "--db", db, "--format", "json")
    st, _, raw, _ = ana.req("GET", "/runs/%d/compare?with=%d" % (r1, r2))
    page = raw.decode()
    rows = re.findall(r"<tr(?: class=\"stay\")?><td>([^<]*)</td><td>([^<]*)</td><td class=\"num\">(\d+)</td>", page)
    label = lambda s: (s.replace("_", " ")[:1].upper() + s.replace("_", " ")[1:]) if s else s
    want = [(label(m["from"]), label(m["to"]), str(m["customers"])) for m in cli["moves"]]
    check(st == 200 and rows == want, "the comparison page shows the counts of tessera migration", (len(rows), len(want)))
    check('id="chart-sankey"' in page and 'data-run-b="%d"' % r2 in page, "the comparison page has the flow diagram")
    st, _, raw, _ = ana.req("GET", "/runs/%d/compare?with=1%%3Cscript%%3E" % r1)
    check(st == 400 and b"<script>" not in raw, "compare: a bad run number is refused, escaped", st)
    st, js, _, _ = ana.req("GET", "/api/v1/runs/%d/compare/999" % r1)
    check(st == 404, "compare with an unknown run: 404", st)

    # ---- churn, next best products and household of a bundle run
    customers = [r["customer_id"] for r in read_csv(os.path.join(bout, "customers.csv"))][:120] \
        if os.path.exists(os.path.join(bout, "customers.csv")) else []
    if not customers:
        st, js, _, _ = ana.req("GET", "/api/v1/runs/%d/customers?limit=120" % rb)
        customers = [c["customer_id"] for c in js["customers"]]
    write_contract_files(bout, customers)
    churn = {r["customer_id"]: r for r in read_csv(os.path.join(bout, "churn.csv"))}
    graph = read_csv(os.path.join(bout, "graph.csv"))
    house = {}
    for e in graph:
        if e["type"] == "member_of":
            house.setdefault(e["target"], []).append(e["source"])
    cid = next(c for c in customers if any(c in m and len(m) > 1 for m in house.values()) and c in churn)
    st, v, _, _ = ana.req("GET", "/api/v1/runs/%d/customers/%s/view" % (rb, cid))
    check(st == 200 and abs(v["churn"]["probability"] - float(churn[cid]["churn_probability"])) < 1e-12
          and v["churn"]["reasons"][0] == churn[cid]["reason_1"], "customer view: churn probability and reasons of churn.csv", v and v["churn"])
    nbp = [r for r in read_csv(os.path.join(bout, "nbp.csv")) if r["customer_id"] == cid]
    nbp.sort(key=lambda r: float(r["rank"]))
    check([p["product"] for p in v["next_best_products"]] == [r["product"] for r in nbp] and nbp,
          "customer view: next best products of nbp.csv by rank", v["next_best_products"])
    goals = next(r for r in read_csv(os.path.join(bout, "goals.csv")) if r["customer_id"] == cid)
    check(v["goals"] is not None and sorted(v["goals"]) == sorted(k for k in goals if k != "customer_id")
          and all(abs(v["goals"][k] - float(goals[k])) < 1e-12 for k in v["goals"]),
          "customer view: goal propensities of goals.csv", v.get("goals"))
    # ---- the customer's churn and next best products from the newest run that has them
    st, js, _, _ = ana.req("GET", "/api/v1/customers/%s/churn" % cid)
    check(st == 200 and js["run_id"] == rb and js["customer_id"] == cid
          and abs(js["churn_probability"] - float(churn[cid]["churn_probability"])) < 1e-12
          and js["reasons"][0] == churn[cid]["reason_1"], "GET /customers/{id}/churn equals churn.csv", js)
    st, js, _, _ = ana.req("GET", "/api/v1/customers/%s/next-best-products" % cid)
    got = [p["product"] for p in sorted(js["products"], key=lambda p: p["rank"])] if st == 200 else None
    check(got == [r["product"] for r in nbp], "GET /customers/{id}/next-best-products equals nbp.csv by rank", js)
    st, js, _, _ = ana.req("GET", "/api/v1/customers/no-such-customer/churn")
    check(st == 404, "GET /customers/{id}/churn of an unknown customer: 404", st)
    st, _, _, _ = Client(port).req("GET", "/api/v1/customers/%s/churn" % cid)
    check(st == 401, "GET /customers/{id}/churn needs a login", st)
    hh = next(k for k, m in house.items() if cid in m)
    check(v["household"]["household"] == hh and sorted(v["household"]["members"]) == sorted(house[hh]),
          "customer view: the household of graph.csv", v["household"])
    merged = [e for e in graph if e["type"] == "same_person"]
    if merged:
        rec, canon = merged[0]["source"], merged[0]["target"]
        st, v2, _, _ = ana.req("GET", "/api/v1/runs/%d/customers/%s/view" % (rb, canon))
        check(st == 200 and rec in v2["household"]["records"], "customer view: records merged into the person", v2 and v2["household"])
    check(v["profile"] and v["profile"].get("products") is not None and v["units"]["period"] == "weeks",
          "customer view: profile and units", v.get("units"))
    st, js, _, _ = ana.req("GET", "/api/v1/runs/%d/customers/no-such/view" % rb)
    check(st == 404, "customer view of an unknown customer: 404", st)
    st, v, _, _ = ana.req("GET", "/api/v1/runs/%d/customers/%s/view" % (r2, "C000073"))
    check(st == 200 and v["churn"] is None and v["household"] is None and v["next_best_products"] == [],
          "customer view of a plain run leaves the bundle parts out", v)

    # ---- at risk: churn x revenue
    st, ar, _, _ = ana.req("GET", "/api/v1/runs/%d/at-risk?limit=10" % rb)
    st2, cs, _, _ = ana.req("GET", "/api/v1/runs/%d/customers?limit=1000" % rb)
    rev = {c["customer_id"]: c["revenue"] for c in cs["customers"]}
    expect = sorted(((float(churn[c]["churn_probability"]) * rev[c], c) for c in churn
                     if c in rev and float(churn[c]["churn_probability"]) >= 0.5), reverse=True)[:10]
    got = [(x["revenue_at_risk"], x["customer_id"]) for x in ar["customers"]]
    check(st == 200 and ar["source"] == "churn_model" and [c for _, c in got] == [c for _, c in expect]
          and all(abs(a - b) < 1e-6 * max(1, b) for (a, _), (b, _) in zip(got, expect)),
          "at risk: churn.csv probability x revenue, highest first", (got[:3], expect[:3]))
    n_risk = sum(1 for c in churn if c in rev and float(churn[c]["churn_probability"]) >= 0.5)
    check(sum(s["at_risk"] for s in ar["segments"]) == n_risk, "at risk: per-segment counts add up", n_risk)
    st, ar2, _, _ = ana.req("GET", "/api/v1/runs/%d/at-risk?limit=5" % r2)
    st3, cs2, _, _ = ana.req("GET", "/api/v1/runs/%d/customers?limit=1000" % r2)
    exp2 = sorted(((1 - c["p_alive"]) * c["revenue"] for c in cs2["customers"]
                   if c["p_alive"] is not None and 1 - c["p_alive"] >= 0.5), reverse=True)[:5]
    check(ar2["source"] == "p_alive" and all(abs(a["revenue_at_risk"] - b) < 1e-6 * max(1, b) for a, b in zip(ar2["customers"], exp2))
          and len(ar2["customers"]) == len(exp2), "at risk without a churn model: 1 - P(alive)", (ar2["customers"][:1], exp2[:1]))
    st, _, _, _ = ana.req("GET", "/api/v1/runs/%d/at-risk?limit=0" % r2)
    check(st == 400, "at risk: limit out of range -> 400", st)

    # ---- malformed run files are read without harm
    o2 = os.path.join(tmp, "o2")
    with open(os.path.join(o2, "churn.csv"), "wb") as f:
        f.write(b"customer_id,churn_probability,reason_1\nC000073,abc,x\nC000001,0.9,\xff\xfe bad\n\"open,1\nC000002\n")
    with open(os.path.join(o2, "graph.csv"), "wb") as f:
        f.write(b"source,target\nC000073\n,,,,\n")
    st, v, _, _ = ana.req("GET", "/api/v1/runs/%d/customers/C000073/view" % r2)
    check(st == 200 and v["churn"]["probability"] is None and v["household"]["household"] is None,
          "malformed churn.csv and graph.csv: the view still answers", (st, v and v.get("churn")))
    st, ar3, _, _ = ana.req("GET", "/api/v1/runs/%d/at-risk" % r2)
    check(st == 200 and ar3["source"] == "churn_model" and [c["customer_id"] for c in ar3["customers"]] == ["C000001"],
          "malformed churn.csv: only its readable rows count", (st, ar3 and ar3["customers"]))
    os.remove(os.path.join(o2, "churn.csv"))
    os.remove(os.path.join(o2, "graph.csv"))

    # ---- segment profiles
    st, sp, _, _ = ana.req("GET", "/api/v1/runs/%d/segment-profiles" % rb)
    rows = read_csv(os.path.join(bout, "segment_profiles.csv"))
    check(st == 200 and len(sp["segments"]) == len(rows) and all(
        a["segment"] == b["segment"] and a["customers"] == float(b["customers"]) and abs(a["revenue"] - float(b["revenue"])) < 1e-9
        for a, b in zip(sp["segments"], rows)), "segment profiles equal segment_profiles.csv", len(rows))
    st, sp, _, _ = ana.req("GET", "/api/v1/runs/%d/segment-profiles" % r2)
    check(st == 200 and sp["segments"] == [], "a plain run has no segment profiles", sp)

    # ---- message preview
    st, m, _, _ = ana.req("POST", "/api/v1/runs/%d/customers/%s/message" % (rb, cid), {"channel": "sms", "offer_name": "the cashback card"})
    top = [r["product"] for r in nbp][0]
    check(st == 200 and m["limit"] == 160 and m["variants"] and all(x["fits"] and len(x["text"]) <= 160 for x in m["variants"])
          and "the cashback card" in m["variants"][0]["text"] and top in m["variants"][0]["text"],
          "message preview: sms with the offer and the next best product", m)
    tpl = "[channel=push]\n{first_name|Dear customer}, segment {segment}, tier {clv_tier}\n"
    st, m, _, _ = ana.req("POST", "/api/v1/runs/%d/customers/%s/message" % (rb, cid), {"channel": "push", "templates": tpl})
    st_c, c, _, _ = ana.req("GET", "/api/v1/runs/%d/customers/%s" % (rb, cid))
    check(st == 200 and m["variants"][0]["text"] == "Dear customer, segment %s, tier %s" % (c["segment"], m["fields"]["clv_tier"])
          and m["fields"]["clv_tier"] in ("high", "medium", "low") and not m["personal"],
          "message preview: push uses no personal field; segment and CLV tier filled", m)
    st, m, _, _ = ana.req("POST", "/api/v1/runs/%d/customers/%s/message" % (rb, cid), {"templates": "[channel=sms]\nHi {if x}\n"})
    check(st == 422 and "templates:2:" in m["error"]["message"], "message preview: a template error names line and column", m)
    st, m, _, _ = ana.req("POST", "/api/v1/runs/%d/customers/%s/message" % (rb, cid), {"channel": "email", "templates": "[channel=sms]\nHi\n"})
    check(st == 422 and "no template for the email channel" in m["error"]["message"], "message preview: no template for the channel", m)
    st, m, _, _ = ana.req("POST", "/api/v1/runs/%d/customers/%s/message" % (rb, cid), {"channel": "sms", "templates": "[channel=sms]\n" + "x" * 200 + "\n"})
    check(st == 200 and not m["variants"][0]["fits"], "message preview: a text over the channel's limit is marked", m)
    st, m, _, _ = ana.req("POST", "/api/v1/runs/%d/customers/%s/message" % (rb, cid), {"channel": "fax"})
    check(st == 400, "message preview: unknown channel -> 400", st)

    # ---- pages show the views
    st, _, raw, _ = ana.req("GET", "/runs/%d" % r2)
    page = raw.decode()
    check('id="lookup"' in page and page.index('id="lookup"') < page.index('class="kpis"'), "the customer lookup is at the top of the dashboard")
    check("Win them back" in page and "what it means" in page, "segments with a meaning and a suggested action")
    models = page[page.index('id="models"'):page.index("</table>", page.index('id="models"'))]
    check("purchase model" in models and "{&quot;" not in models and '{"' not in models and "standard error" in models,
          "model fits as a table in words, no raw JSON")
    check('id="at-risk"' in page and 'id="compare-link"' in page, "dashboard: at-risk section and the comparison link")
    st, _, raw, _ = ana.req("GET", "/runs/%d/customers/%s" % (rb, cid))
    page = raw.decode()
    check(re.search(r'id="kpi-recency".*?weeks', page, re.S) and 'id="household-map"' in page and 'id="msg-form"' in page,
          "customer page: recency in weeks, household map and message preview")
    st, _, raw, _ = ana.req("GET", "/runs/%d/customers/%%3Cb%%3Ex" % rb)
    check(st == 404 and b"<b>x" not in raw, "an unknown customer id is escaped on the error page", st)
    st, _, raw, _ = ana.req("GET", "/help")
    check(b'id="g-at-risk"' in raw and b'id="g-migration"' in raw and b"Customer column" in raw, "help: glossary of the new figures; inputs in words")

    # ---- authentication and CSRF on every view
    anon = Client(port)
    for path in ("/api/v1/runs/%d/compare/%d" % (r1, r2), "/api/v1/runs/%d/at-risk" % rb,
                 "/api/v1/runs/%d/segment-profiles" % rb, "/api/v1/runs/%d/customers/%s/view" % (rb, cid)):
        st, _, _, _ = anon.req("GET", path)
        check(st == 401, "401 without login: " + path, st)
    for path in ("/api/v1/runs/%d/customers/%s/message" % (rb, cid), "/api/v1/me/password"):
        st, _, _, _ = anon.req("POST", path, {})
        check(st == 401, "401 without login: POST " + path, st)
        st, _, _, _ = ana.req("POST", path, {}, csrf=False)
        check(st == 403, "403 without the CSRF token: POST " + path, st)
    st, _, raw, _ = anon.req("GET", "/runs/%d/compare" % r1)
    check(st in (302, 303, 401), "the comparison page needs a login", st)

    # ---- a failed run speaks in words and links back to its dataset
    bad = b"customer_id,date,amount\n" + b"".join(b"C%d,2024-01-%02d,10\n" % (i, 1 + i % 28) for i in range(30)) \
        + b"".join(b"C%d,%d/01/2024,10\n" % (i, 13 + i % 15) for i in range(10))
    st, js, _, _ = ana.req("POST", "/api/v1/datasets?name=dmy.csv", bad, ctype="text/csv")
    ds = js["id"]
    st, js, _, _ = ana.req("POST", "/api/v1/runs", {"dataset_id": ds, "params": {"customer_col": "customer_id", "date_col": "date",
                                                                                 "amount_col": "amount", "max_errors": 1}})
    if st == 202:
        job = wait_job(ana, js["job"]["id"])
        st, _, raw, _ = ana.req("GET", "/jobs/%d" % job["id"])
        page = raw.decode()
        err = page[page.index('id="job-error"'):page.index('id="job-link"')]
        check(job["state"] == "failed" and 'href="/datasets/%d?run=' % ds in page, "a failed job links back to its dataset", err)
        check(not re.search(r"(^|[ (])--[a-z]", re.sub("<[^>]*>", "", err)) and tmp not in err and "/uploads/" not in err,
              "a failed job's error names no command-line option or file path", err)
        for path in ("/jobs", "/runs"):
            st, _, raw, _ = ana.req("GET", path)
            txt = raw.decode()
            i = max(txt.find("--max-errors"), txt.find("web.db.data"))
            check(st == 200 and i < 0, path + " words errors too", txt[max(0, i - 300):i + 100])
        if job.get("run_id"):
            st, _, raw, _ = ana.req("GET", "/runs/%d" % job["run_id"])
            page = raw.decode()
            check('id="retry-link"' in page and "--date-format" not in page, "a failed run links back to its dataset, in words")
    else:
        check(st == 400 and "--" not in js["error"]["message"], "unreadable dates are refused when the run starts", js)

    # ---- password change
    vic = Client(port)
    check(vic.login("vic", pw) == 200, "viewer logs in")
    st, js, _, _ = vic.req("POST", "/api/v1/me/password", {"current_password": "wrong-one", "new_password": "a-new-secret-1"})
    check(st == 403, "password change with a wrong current password: 403", st)
    st, js, _, _ = vic.req("POST", "/api/v1/me/password", {"current_password": pw, "new_password": "short"})
    check(st == 400, "a new password under 8 characters: 400", st)
    st, js, _, _ = vic.req("POST", "/api/v1/me/password", {"current_password": pw, "new_password": "a-new-secret-1"})
    check(st == 200 and js["changed"], "password changed", js)
    check(Client(port).login("vic", pw) == 401, "the old password stops working")
    check(Client(port).login("vic", "a-new-secret-1") == 200, "the new password works")
    # the same through the account page form
    st, _, raw, _ = ana.req("GET", "/account")
    tok = re.search(r'name="csrf" value="([0-9a-f]+)"', raw.decode()).group(1)
    form = "csrf=%s&current_password=%s&new_password=page-secret-22&confirm_password=page-secret-22" % (tok, pw)
    st, _, raw, _ = ana.req("POST", "/account", form.encode(), ctype="application/x-www-form-urlencoded")
    check(st == 200 and b"password was changed" in raw, "account page: password changed", st)
    check(Client(port).login("ana", pw) == 401 and Client(port).login("ana", "page-secret-22") == 200,
          "account page: the old password stops working, the new one works")
    form = "csrf=%s&current_password=page-secret-22&new_password=abcdefgh1&confirm_password=abcdefgh2" % tok
    st, _, raw, _ = ana.req("POST", "/account", form.encode(), ctype="application/x-www-form-urlencoded")
    check(st == 400 and b"differ" in raw, "account page: the two new passwords must match", st)


def json_cli(*args):
    import json
    return json.loads(run(*args))


if __name__ == "__main__":
    main()
