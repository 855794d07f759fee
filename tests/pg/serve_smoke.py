#!/usr/bin/env python3
"""serve_smoke.py TESSERA - tessera serve and tessera user on a PostgreSQL
store (issue 7). Run inside tests/pg/with_pg.sh (TSR_TEST_PG_URL): adds a
user with 'tessera user add --db URL', starts 'tessera serve --db URL' on a
free loopback port, logs in through /api/v1/login, GETs /healthz and
/api/v1/runs, uploads a simulated log, analyses it, and compares the
dashboard aggregates and a customer's history with the same flow on a
SQLite store; then stops the server with SIGTERM."""
import http.client
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TSR = sys.argv[1]
URL = os.environ.get("TSR_TEST_PG_URL", "")
ENV = dict(os.environ, TESSERA_TEST_FAST_HASH="1", TESSERA_NO_PROGRESS="1")
FAILS = []


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond or detail == "" else ": " + str(detail)))
    if not cond:
        FAILS.append(what)


def run(*args, stdin=None):
    return subprocess.run([TSR, *args], input=stdin, capture_output=True, text=True, env=ENV)


def req(port, method, path, body=None, cookie=None, csrf=None, ctype=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {}
    if ctype:
        h["Content-Type"] = ctype
    if cookie:
        h["Cookie"] = cookie
    if csrf:
        h["X-CSRF-Token"] = csrf
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    js = json.loads(data.decode()) if hdrs.get("content-type", "").startswith("application/json") else None
    return r.status, js, hdrs


def start(db, data_dir):
    srv = subprocess.Popen([TSR, "serve", "--listen", "127.0.0.1:0", "--db", db, "--data-dir", data_dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    line = srv.stdout.readline()
    port = int(line.strip().rsplit(":", 1)[1]) if line.startswith("tessera: listening") else None
    return srv, port, line


def stop(srv):
    srv.send_signal(signal.SIGTERM)
    try:
        rc = srv.wait(timeout=30)
    except subprocess.TimeoutExpired:
        srv.kill()
        rc = -1
    return rc, srv.stderr.read()


def flow(port, cookie, csrf, data, tag):
    """Upload, analyse; returns (aggregates, history of the most frequent
    customer) or None."""
    st, js, _ = req(port, "POST", "/api/v1/datasets?name=tx.csv", data, cookie, csrf, ctype="text/csv")
    check(st == 201, "%s: upload -> 201" % tag, (st, js))
    if st != 201:
        return None
    ds = js["id"]
    st, js, _ = req(port, "POST", "/api/v1/runs", {"dataset_id": ds, "params": {
        "customer_col": "customer_id", "date_col": "timestamp", "amount_col": "amount"}}, cookie, csrf)
    check(st == 202, "%s: run start -> 202" % tag, (st, js))
    if st != 202:
        return None
    t0 = time.time()
    job = js["job"]
    while job["state"] in ("queued", "running") and time.time() - t0 < 120:
        time.sleep(0.1)
        job = req(port, "GET", "/api/v1/jobs/%d" % job["id"], cookie=cookie)[1]["job"]
    check(job["state"] == "done", "%s: job done" % tag, job)
    if job["state"] != "done":
        return None
    run_id = job["run_id"]
    st, res, _ = req(port, "GET", "/api/v1/runs/%d/results" % run_id, cookie=cookie)
    check(st == 200 and res["run"]["status"] == "done", "%s: results" % tag, st)
    st, lst, _ = req(port, "GET", "/api/v1/runs/%d/customers?sort=frequency&order=desc&limit=1" % run_id,
                     cookie=cookie)
    cid = lst["customers"][0]["customer_id"]
    st, c, _ = req(port, "GET", "/api/v1/runs/%d/customers/%s" % (run_id, cid), cookie=cookie)
    check(st == 200 and len(c["history"]) > 0 and sum(h["purchases"] for h in c["history"]) == c["transactions"],
          "%s: customer history sums to the transaction count" % tag, st)
    out = (res["aggregates"], cid, c["history"])
    st, js, _ = req(port, "DELETE", "/api/v1/runs/%d" % run_id, cookie=cookie, csrf=csrf)
    check(st in (200, 204), "%s: delete run" % tag, (st, js))
    st, js, _ = req(port, "DELETE", "/api/v1/datasets/%d" % ds, cookie=cookie, csrf=csrf)
    check(st in (200, 204), "%s: delete dataset" % tag, (st, js))
    return out


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def login(port, pw):
    st, js, h = req(port, "POST", "/api/v1/login", {"name": "ana", "password": pw})
    return (h["set-cookie"].split(";")[0], js["csrf"]) if st == 200 else (None, None)


def main():
    if not URL:
        print("serve_smoke.py: TSR_TEST_PG_URL not set (run under tests/pg/with_pg.sh)")
        return 2
    tmp = tempfile.mkdtemp(prefix="tsr-pgweb-")
    pw = "correct-horse-battery"
    sq = os.path.join(tmp, "web.db")
    p = run("user", "add", "ana", "--role", "analyst", "--db", URL, stdin=pw + "\n")
    check(p.returncode == 0, "user add --db postgresql://", p.stderr)
    p = run("user", "add", "ana", "--role", "viewer", "--db", URL, stdin=pw + "\n")
    check(p.returncode == 1 and "already exists" in p.stderr, "user add twice -> exit 1, already exists",
          (p.returncode, p.stderr))
    p = run("user", "list", "--db", URL)
    check(p.returncode == 0 and "ana,analyst," in p.stdout, "user list --db postgresql://", (p.stdout, p.stderr))
    p = run("user", "add", "ana", "--role", "analyst", "--db", sq, stdin=pw + "\n")
    check(p.returncode == 0, "user add (SQLite, for comparison)", p.stderr)
    tx = os.path.join(tmp, "tx.csv")
    p = run("simulate", "--customers", "300", "--seed", "5", "-o", tx)
    check(p.returncode == 0, "simulate", p.stderr)
    data = open(tx, "rb").read()

    flows = {}
    for tag, db in (("postgresql", URL), ("sqlite", sq)):
        srv, port, line = start(db, os.path.join(tmp, tag + ".data"))
        try:
            check(port is not None, "%s: serve starts" % tag, line)
            if port is None:
                continue
            st, js, _ = req(port, "GET", "/healthz")
            check(st == 200 and js and js.get("status") == "ok", "%s: GET /healthz" % tag, (st, js))
            st, js, _ = req(port, "POST", "/api/v1/login", {"name": "ana", "password": "wrong-password"})
            check(st == 401, "%s: wrong password -> 401" % tag, st)
            cookie, csrf = login(port, pw)
            check(cookie is not None, "%s: POST /api/v1/login" % tag)
            if cookie is None:
                continue
            st, js, _ = req(port, "GET", "/api/v1/runs", cookie=cookie)
            check(st == 200 and js is not None, "%s: GET /api/v1/runs with the session" % tag, (st, js))
            st, js, _ = req(port, "GET", "/api/v1/runs")
            check(st == 401, "%s: GET /api/v1/runs without a session -> 401" % tag, st)
            flows[tag] = flow(port, cookie, csrf, data, tag)
            st, js, _ = req(port, "POST", "/api/v1/logout", {}, cookie, csrf)
            st, js, _ = req(port, "GET", "/api/v1/runs", cookie=cookie)
            check(st == 401, "%s: the session is gone after logout" % tag, st)
        finally:
            rc, err = stop(srv)
            check(rc == 0, "%s: SIGTERM stops the server cleanly (exit 0)" % tag, (rc, err))
    a, b = flows.get("postgresql"), flows.get("sqlite")
    check(a is not None and b is not None and same(a[0], b[0]),
          "dashboard aggregates on PostgreSQL equal SQLite's", (a and a[0], b and b[0]))
    check(a is not None and b is not None and a[1] == b[1] and same(a[2], b[2]),
          "customer history on PostgreSQL equals SQLite's")
    p = run("user", "del", "ana", "--db", URL)
    check(p.returncode == 0, "user del --db postgresql://", p.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    if FAILS:
        print("%d failures: %s" % (len(FAILS), ", ".join(FAILS)))
        return 1
    print("all PostgreSQL serve checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
