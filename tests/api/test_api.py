#!/usr/bin/env python3
"""API tests of `tessera serve` (issue 6), run by ctest:
    test_api.py TESSERA_BINARY BUILD_DIR
Starts the server on a free loopback port with a temporary database, then
checks authentication (401), roles (403), CSRF (403), size limits (413),
parameter validation (400 naming the parameter and range), a malformed CSV
(job fails with the reject report), and a full flow (login, upload the
simulated demo file, analyse, poll, read results, customer lookup) whose
numbers equal `tessera analyze` on the same file. Standard library only.
With TSR_TEST_PG_URL set (ctest api/test_api_pg, inside tests/pg/with_pg.sh)
the server and the accounts use that PostgreSQL database instead (issue 7)."""
import csv
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PG_URL, Client, Server, add_users, check, finish, run, store, temp_dir,  # noqa: E402
                     wait_job)


def oversize_post(cl, path, body):
    """POSTs body over a raw socket and reads the answer while sending: the
    server answers 413 from the Content-Length alone and closes the
    connection without reading the body (issue 11), so a client that insists
    on sending all of it first may see a broken pipe instead."""
    import socket
    s = socket.create_connection(("127.0.0.1", cl.port), timeout=30)
    hdr = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n" % (path, len(body))
    if cl.cookie:
        hdr += "Cookie: %s\r\n" % cl.cookie
    if cl.csrf:
        hdr += "X-CSRF-Token: %s\r\n" % cl.csrf
    s.sendall((hdr + "\r\n").encode())
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass
    s.close()
    head, _, rest = got.partition(b"\r\n\r\n")
    try:
        st = int(head.split(b" ")[1])
        return st, json.loads(rest.decode())
    except (IndexError, ValueError):
        return 0, None


def close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


def main():
    tmp = temp_dir("api")
    pg_url = PG_URL
    db = store(tmp, pg=True)
    pw = "correct-horse-battery"
    add_users(db, (("alice", "admin"), ("ana", "analyst"), ("vic", "viewer"), ("bob", "analyst")), pw)
    tx = os.path.join(tmp, "tx.csv")
    run("simulate", "--customers", "400", "--seed", "11", "-o", tx)
    with Server(db, "--max-upload", "2000000", *(["--data-dir", os.path.join(tmp, "data")] if pg_url else [])) as srv:
        check(srv.line.startswith("tessera: listening on http://127.0.0.1:"), "server prints its address", srv.line)
        body(srv.port, tmp, db, tx, pw)
    check(srv.rc == 0, "SIGTERM stops the server cleanly (exit 0)", srv.rc)
    q_n = "SELECT count(*) FROM web_requests"
    q_row = ("SELECT user_name, method, path, status, bytes_in FROM web_requests "
             "WHERE method = 'POST' AND path = '/api/v1/datasets' AND status = 201 LIMIT 1")
    if not pg_url:
        con = sqlite3.connect(db)
        n = con.execute(q_n).fetchone()[0]
        row = con.execute(q_row).fetchone()
        con.close()
    elif shutil.which("psql"):
        def psql(q):
            p = subprocess.run(["psql", pg_url, "-XtA", "-F", "\t", "-c", q], capture_output=True, text=True)
            return p.stdout.strip().split("\t") if p.returncode == 0 and p.stdout.strip() else None
        n = int((psql(q_n) or ["0"])[0])
        r = psql(q_row)
        row = (r[0], r[1], r[2], int(r[3]), int(r[4])) if r else None
    else:
        n, row = None, None
        print("skip request log checks: psql not found")
    if n is not None:
        check(n >= 30, "every request is recorded in web_requests", n)
        check(row is not None and row[0] == "ana" and row[4] > 1000, "request log has user, status, bytes in", row)
    finish("all API checks passed")


def body(port, tmp, db, tx, pw):
    anon = Client(port)
    st, js, _, h = anon.req("GET", "/healthz")
    check(st == 200 and js["status"] == "ok", "healthz")
    for k in ("content-security-policy", "x-content-type-options", "referrer-policy"):
        check(k in h, "security header " + k)
    check("frame-ancestors 'none'" in h.get("content-security-policy", ""), "CSP frame-ancestors 'none'")
    st, js, _, _ = anon.req("GET", "/api/v1/runs")
    check(st == 401 and js["error"]["code"] == "EAUTH", "unauthenticated API call -> 401 EAUTH", (st, js))
    st, js, _, _ = anon.req("GET", "/metrics")
    check(st == 401, "metrics need an account", st)
    for path in ("/api/v1/openapi.json", "/api/v1/params", "/help", "/datasets"):
        st, _, _, _ = anon.req("GET", path)
        check(st in (401, 303), "%s needs a login" % path, st)
    st, _, _, _ = anon.req("GET", "/static/../../../etc/passwd")
    check(st in (400, 404), "no traversal out of the static table", st)
    st, js, _, _ = anon.req("POST", "/api/v1/login", {"name": "ana", "password": "wrong-password"})
    check(st == 401 and js["error"]["code"] == "EAUTH", "wrong password -> 401", (st, js))
    st, js, _, _ = anon.req("POST", "/api/v1/login", b"{not json", ctype="application/json")
    check(st == 400 and js["error"]["code"] == "EPARSE", "malformed JSON -> 400 EPARSE", (st, js))

    # login rate limiting per user name
    codes = []
    for _ in range(7):
        st, _, _, _ = anon.req("POST", "/api/v1/login", {"name": "bob", "password": "nope-nope"})
        codes.append(st)
    check(codes[-1] == 429, "repeated failed logins -> 429", codes)

    # viewer: reads allowed, upload refused
    vic = Client(port)
    st, js, h = vic.login("vic", pw)
    check(st == 200 and "HttpOnly" in h["set-cookie"] and "SameSite=Strict" in h["set-cookie"],
          "login sets an HttpOnly SameSite=Strict session cookie", h.get("set-cookie"))
    st, js, _, _ = vic.req("GET", "/api/v1/datasets")
    check(st == 200, "viewer can list datasets", st)
    st, js, _, _ = vic.req("GET", "/api/v1/openapi.json")
    check(st == 200 and js["openapi"].startswith("3.") and "/runs/{id}/results" in js["paths"], "openapi.json served")
    st, js, _, _ = vic.req("GET", "/api/v1/params")
    names = [p["name"] for p in js["params"]]
    check(st == 200 and "horizon" in names and "discount" in names, "params table served")
    st, js, _, _ = vic.req("POST", "/api/v1/datasets?name=x.csv", b"customer_id,date,amount\n", ctype="text/csv")
    check(st == 403 and js["error"]["code"] == "EPERM", "viewer upload -> 403 EPERM", (st, js))
    st, js, _, _ = vic.req("GET", "/api/v1/users")
    check(st == 403, "viewer cannot list users", st)

    ana = Client(port)
    st, js, _ = ana.login("ana", pw)
    check(st == 200 and js["role"] == "analyst", "analyst login", js)
    data = open(tx, "rb").read()
    st, js, _, _ = ana.req("POST", "/api/v1/datasets?name=tx.csv", data, ctype="text/csv", csrf=False)
    check(st == 403 and js["error"]["code"] == "ECSRF", "upload without CSRF token -> 403", (st, js))
    big = b"customer_id,date,amount\n" + b"C1,2024-01-01,1.00\n" * 120000
    check(len(big) > 2000000, "oversize body is larger than --max-upload")
    st, js = oversize_post(ana, "/api/v1/datasets?name=big.csv", big)
    check(st == 413 and js["error"]["code"] == "ELIMIT" and "2000000" in js["error"]["message"],
          "oversize upload -> 413 with the limit in the message", (st, js))
    st, js, _, _ = ana.req("POST", "/api/v1/datasets?name=tx.csv", data, ctype="text/csv")
    check(st == 201 and js["preview"]["columns"][:4] == ["transaction_id", "customer_id", "timestamp", "amount"],
          "upload -> 201 with a preview", (st, js and js.get("preview", {}).get("columns")))
    ds = js["id"]
    check(len(js["preview"]["rows"]) == 20 and js["preview"]["guess"].get("customer_col") == "customer_id",
          "preview has 20 rows and guessed columns", js["preview"].get("guess"))
    check(len(js["checksum"]) == 64 and js["bytes"] == len(data), "upload checksummed, size recorded")

    # parameter validation from the params table
    st, js, _, _ = ana.req("POST", "/api/v1/runs", {"dataset_id": ds, "params": {"horizon": -3}})
    check(st == 400 and js["error"].get("field") == "horizon" and "(0, 1000]" in js["error"]["message"],
          "bad horizon -> 400 naming the parameter and its range", js)
    st, js, _, _ = ana.req("POST", "/api/v1/runs", {"dataset_id": ds, "params": {"model": "magic"}})
    check(st == 400 and "bgnbd" in js["error"]["message"], "bad model -> 400 listing the choices", js)
    st, js, _, _ = ana.req("POST", "/api/v1/runs", {"dataset_id": ds, "params": {"colour": "red"}})
    check(st == 400 and "unknown parameter" in js["error"]["message"], "unknown parameter -> 400", js)
    st, js, _, _ = ana.req("POST", "/api/v1/runs", {"dataset_id": ds, "params": {"customer_col": "client"}})
    check(st == 400 and js["error"]["field"] == "customer_col" and "no column 'client'" in js["error"]["message"]
          and "customer_id" in js["error"]["message"], "unknown column -> 400 listing the columns", js)
    st, js, _, _ = ana.req("POST", "/api/v1/runs", {"dataset_id": ds, "params": {"date_col": "channel"}})
    check(st == 400 and js["error"]["field"] == "date_col" and "holds a date" in js["error"]["message"],
          "a date column without dates -> 400 before the job starts", js)
    st, js, _, _ = ana.req("POST", "/api/v1/runs", {"dataset_id": 999999})
    check(st == 404, "run of a missing dataset -> 404", (st, js))

    # the full flow
    st, js, _, _ = ana.req("POST", "/api/v1/runs", {"dataset_id": ds, "params": {"customer_col": "customer_id", "date_col": "timestamp", "amount_col": "amount"}})
    check(st == 202 and js["job"]["state"] in ("queued", "running", "done"), "run start -> 202 job", (st, js))
    job = wait_job(ana, js["job"]["id"])
    check(job["state"] == "done" and job["progress"] == 100 and job["rows_read"] > 0, "job done with progress", job)
    run_id = job["run_id"]
    st, res, _, _ = ana.req("GET", "/api/v1/runs/%d/results" % run_id)
    check(st == 200 and res["run"]["status"] == "done", "results of the run", st)
    out = os.path.join(tmp, "cli-out")
    run("analyze", tx, "--customer-col", "customer_id", "--date-col", "timestamp", "--amount-col", "amount",
        "-o", out, "--db", os.path.join(tmp, "cli.db"), "-q")
    cli = json.load(open(os.path.join(out, "run.json")))["kpis"]
    k = res["kpis"]
    for key in ("customers", "transactions", "visits", "revenue", "churn_rate", "clv_total", "clv_mean",
                "mean_p_alive", "first_purchase", "last_purchase", "top20_revenue_share"):
        same = close(k.get(key), cli.get(key)) if isinstance(cli.get(key), (int, float)) else k.get(key) == cli.get(key)
        check(same, "KPI %s equals tessera analyze" % key, (k.get(key), cli.get(key)))
    check(len(res["segments"]) > 0 and len(res["models"]) >= 2, "results list segments and models")
    check(len(res["aggregates"]["clusters"]) >= 1 and len(res["aggregates"]["rf_grid"]) > 0, "results have cluster and RF aggregates")
    rows = list(csv.DictReader(open(os.path.join(out, "customers.csv"))))
    row = max(rows, key=lambda x: float(x["frequency"]))
    st, c, _, _ = ana.req("GET", "/api/v1/runs/%d/customers/%s" % (run_id, row["customer_id"]))
    check(st == 200, "customer lookup", st)
    for key in ("frequency", "recency", "T", "monetary_value", "p_alive", "clv", "expected_purchases"):
        if key in row and row[key] != "":
            check(close(c[key], row[key], 1e-12), "customer %s equals customers.csv" % key, (c[key], row[key]))
    check(c["segment"] == row.get("segment"), "customer segment equals customers.csv", (c["segment"], row.get("segment")))
    check(len(c["history"]) > 0 and sum(h["purchases"] for h in c["history"]) == c["transactions"],
          "customer history sums to the transaction count", (len(c["history"]), c["transactions"]))
    st, js, _, _ = ana.req("GET", "/api/v1/runs/%d/customers/NOPE-404" % run_id)
    check(st == 404 and js["error"]["code"] == "ENOTFOUND", "unknown customer -> 404", js)
    seg = res["segments"][0]["segment"]
    st, js, _, _ = ana.req("GET", "/api/v1/runs/%d/customers?segment=%s&sort=clv&order=desc&limit=5" % (run_id, seg))
    check(st == 200 and js["total"] == res["segments"][0]["customers"] and len(js["customers"]) <= 5,
          "customers filtered by segment, paginated", (js and js.get("total"), res["segments"][0]))
    clvs = [x["clv"] for x in js["customers"] if x["clv"] is not None]
    check(clvs == sorted(clvs, reverse=True), "customers sorted by CLV descending")
    st, js, _, _ = ana.req("GET", "/api/v1/runs/%d/customers?limit=5000" % run_id)
    check(st == 400 and "limit" in js["error"]["message"], "limit out of range -> 400", js)
    st, js, _, _ = ana.req("GET", "/api/v1/runs/%d/events?level=info" % run_id)
    check(st == 200 and any(e["step"] == "ingest" for e in js["events"]), "event log of the run")
    st, js, _, _ = vic.req("GET", "/api/v1/runs/%d/results" % run_id)
    check(st == 200, "viewer reads results", st)
    st, js, _, _ = vic.req("DELETE", "/api/v1/runs/%d" % run_id)
    check(st == 403, "viewer cannot delete a run", st)

    # bearer token: exempt from CSRF
    tok = Client(port)
    st, js, _, _ = tok.req("POST", "/api/v1/login", {"name": "ana", "password": pw, "token": True})
    check(st == 200 and len(js.get("token", "")) == 64, "login with token=true returns an API token", js)
    tok.token = js["token"]
    st, js, _, _ = tok.req("GET", "/api/v1/runs/%d" % run_id)
    check(st == 200 and js["status"] == "done", "bearer token reads a run", st)

    # malformed CSV: job fails, the reject report is there
    bad = b"customer_id,date,amount\nC1,2024-01-01,10\nC1,not-a-date,5\nC2,2024-02-01,abc\n,2024-02-03,4\n"
    st, js, _, _ = tok.req("POST", "/api/v1/datasets?name=bad.csv", bad, ctype="text/csv")
    check(st == 201, "malformed CSV upload accepted", (st, js))
    st, js, _, _ = tok.req("POST", "/api/v1/runs", {"dataset_id": js["id"], "params": {"max_errors": 1}})
    job = wait_job(tok, js["job"]["id"])
    check(job["state"] == "failed" and job["error"], "malformed CSV -> job failed with an error", job)
    if job["run_id"]:
        st, js, _, _ = tok.req("GET", "/api/v1/runs/%d" % job["run_id"])
        rej = js.get("rejects", [])
        check(js["status"] == "failed" and len(rej) >= 2 and any("date" in (r["reason"] + str(r["field"])) for r in rej),
              "failed run carries the reject report", js)
    else:
        check(False, "failed job has a run id", job)

    # CSV export neutralises formulas
    evil = b"customer_id,date,amount\n" + b"".join(
        b"%s,2024-%02d-%02d,%d\n" % (cid, m, d, 10 + m) for cid in (b"=HYPERLINK(1)", b"+SUM(A1)", b"@x", b"-2", b"plain")
        for m, d in ((1, 3), (2, 5), (3, 9), (5, 1)))
    st, js, _, _ = tok.req("POST", "/api/v1/datasets?name=evil.csv", evil, ctype="text/csv")
    st, js, _, _ = tok.req("POST", "/api/v1/runs", {"dataset_id": js["id"], "params": {"model": "none", "cluster": "none"}})
    job = wait_job(tok, js["job"]["id"])
    check(job["state"] == "done", "small run without models", job)
    st, _, raw, h = tok.req("GET", "/api/v1/runs/%d/customers.csv" % job["run_id"])
    text = raw.decode()
    check(st == 200 and h["content-type"].startswith("text/csv"), "CSV export", st)
    lines = text.splitlines()
    firsts = sorted(l.split(",")[0] for l in lines[1:])
    check("\"'=HYPERLINK(1)\"" in firsts and "\"'+SUM(A1)\"" in firsts and "\"'@x\"" in firsts and "\"'-2\"" in firsts
          and "plain" in firsts, "CSV cells starting with = + - @ are neutralised", firsts)

    # ownership: another analyst cannot delete ana's dataset; admin can
    bob = Client(port)
    st, _, _ = bob.login("alice", pw)
    st, js, _, _ = bob.req("DELETE", "/api/v1/datasets/%d" % ds)
    check(st == 200 and js["deleted"], "admin deletes a dataset", (st, js))
    st, js, _, _ = ana.req("GET", "/api/v1/datasets/%d" % ds)
    check(st == 404, "deleted dataset is gone", st)

    st, _, raw, _ = ana.req("GET", "/metrics")
    m = raw.decode()
    check(st == 200 and 'tessera_http_requests_total{code="401"}' in m and "tessera_jobs_total{state=\"done\"}" in m
          and "tessera_http_request_duration_seconds_bucket" in m and "tessera_rows_processed_total" in m,
          "metrics in Prometheus text format")
    st, js, _, _ = ana.req("POST", "/api/v1/logout", {})
    check(st == 200, "logout", st)
    st, js, _, _ = ana.req("GET", "/api/v1/runs")
    check(st == 401, "after logout -> 401", st)


if __name__ == "__main__":
    main()
