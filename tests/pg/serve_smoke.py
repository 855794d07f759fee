#!/usr/bin/env python3
"""serve_smoke.py TESSERA - tessera serve and tessera user on a PostgreSQL
store (issue 7). Run inside tests/pg/with_pg.sh (TSR_TEST_PG_URL): adds a
user with 'tessera user add --db URL', starts 'tessera serve --db URL' on a
free loopback port, logs in through /api/v1/login, then GETs /healthz,
/api/v1/me and /api/v1/runs, and stops the server with SIGTERM."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

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


def req(port, method, path, body=None, cookie=None, csrf=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {}
    if cookie:
        h["Cookie"] = cookie
    if csrf:
        h["X-CSRF-Token"] = csrf
    if body is not None:
        body = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    js = json.loads(data.decode()) if hdrs.get("content-type", "").startswith("application/json") else None
    return r.status, js, hdrs


def main():
    if not URL:
        print("serve_smoke.py: TSR_TEST_PG_URL not set (run under tests/pg/with_pg.sh)")
        return 2
    tmp = tempfile.mkdtemp(prefix="tsr-pgweb-")
    pw = "correct-horse-battery"
    p = run("user", "add", "ana", "--role", "analyst", "--db", URL, stdin=pw + "\n")
    check(p.returncode == 0, "user add --db postgresql://", p.stderr)
    p = run("user", "add", "ana", "--role", "viewer", "--db", URL, stdin=pw + "\n")
    check(p.returncode == 1 and "already exists" in p.stderr, "user add twice -> exit 1, already exists",
          (p.returncode, p.stderr))
    p = run("user", "list", "--db", URL)
    check(p.returncode == 0 and "ana,analyst," in p.stdout, "user list --db postgresql://", (p.stdout, p.stderr))
    srv = subprocess.Popen([TSR, "serve", "--listen", "127.0.0.1:0", "--db", URL,
                            "--data-dir", os.path.join(tmp, "data")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    rc = None
    try:
        line = srv.stdout.readline()
        check(line.startswith("tessera: listening on http://127.0.0.1:"), "serve --db postgresql:// starts", line)
        if line.startswith("tessera: listening"):
            port = int(line.strip().rsplit(":", 1)[1])
            st, js, _ = req(port, "GET", "/healthz")
            check(st == 200 and js and js.get("status") == "ok", "GET /healthz", (st, js))
            st, js, _ = req(port, "POST", "/api/v1/login", {"name": "ana", "password": "wrong-password"})
            check(st == 401, "wrong password -> 401", st)
            st, js, h = req(port, "POST", "/api/v1/login", {"name": "ana", "password": pw})
            check(st == 200 and js and js.get("role") == "analyst", "POST /api/v1/login", (st, js))
            if st == 200:
                cookie = h["set-cookie"].split(";")[0]
                st, js, _ = req(port, "GET", "/api/v1/runs", cookie=cookie)
                check(st == 200 and js is not None, "GET /api/v1/runs with the session", (st, js))
                st, js, _ = req(port, "GET", "/api/v1/runs")
                check(st == 401, "GET /api/v1/runs without a session -> 401", st)
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            rc = srv.wait(timeout=30)
        except subprocess.TimeoutExpired:
            srv.kill()
            rc = -1
        err = srv.stderr.read()
        check(rc == 0, "SIGTERM stops the server cleanly (exit 0)", (rc, err))
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
