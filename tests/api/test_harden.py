#!/usr/bin/env python3
"""Issue 11 (hardening) API tests of `tessera serve`, run by ctest:
    test_harden.py TESSERA_BINARY BUILD_DIR
Each check failed before the fix:
  - leftovers of killed uploads and jobs are removed at start-up;
  - login `next=` open-redirect bypasses all land on "/";
  - slow clients: many connections trickling bytes from one address do not
    take /healthz down (per-address limit), on loopback only, bounded;
  - a declared Content-Length over the limit gets 413 before any body is sent;
  - upload names with invalid UTF-8 are kept (U+FFFD) and present in answers;
  - a flood of 401s is aggregated in the request log (repeats; retention
    itself is tested in tests/unit/store/test_server_store.c);
  - the login lock-out is per user and address (through --proxy-header) and
    survives a restart.
Standard library only."""
import os
import socket
import sqlite3
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PW, Server, add_users, check, finish, request, temp_dir  # noqa: E402


def req(port, method, path, body=None, headers=None, timeout=10):
    st, js, _, hd = request(port, method, path, body, headers=headers, timeout=timeout)
    return st, js, hd


def api_login(port, name, pw, addr=None):
    h = {"X-Forwarded-For": addr} if addr else {}
    st, js, hd = req(port, "POST", "/api/v1/login", {"name": name, "password": pw}, h)
    return st, js, hd


def form_login_location(port, nxt):
    st, _, hd = req(port, "GET", "/login")
    cookie = hd["set-cookie"].split(";")[0]
    tok = cookie.split("=", 1)[1]
    body = urllib.parse.urlencode({"name": "alice", "password": PW, "csrf": tok, "next": nxt}).encode()
    st, _, hd = req(port, "POST", "/login", body,
                    {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    return st, hd.get("location")


def main():
    tmp = temp_dir("harden")
    db = os.path.join(tmp, "web.db")
    add_users(db, (("alice", "admin"), ("ana", "analyst")))
    # --- 4. leftovers of a killed server
    data = db + ".data"
    os.makedirs(os.path.join(data, "uploads"), exist_ok=True)
    os.makedirs(os.path.join(data, "runs", "1700000000000-deadbeef"), exist_ok=True)
    with open(os.path.join(data, "uploads", ".upload-AbC123"), "w") as f:
        f.write("customer_id,date,amount\nhalf")
    with open(os.path.join(data, "runs", "1700000000000-deadbeef", "customers.csv"), "w") as f:
        f.write("customer_id,freq")
    srv = Server(db, "--proxy-header", "X-Forwarded-For", "--max-connections", "64",
                 "--max-per-address", "8", "--idle-timeout", "30", "--log-max-rows", "1000",
                 "--max-upload", "100000")
    port = srv.port
    try:
        check(not os.path.exists(os.path.join(data, "uploads", ".upload-AbC123")),
              "a partial upload left by a killed server is removed at start-up")
        check(not os.path.exists(os.path.join(data, "runs", "1700000000000-deadbeef")),
              "a run folder of no finished run is removed at start-up")
        body(port, db)
    finally:
        srv.stop()
    # --- 11. the lock-out survives a restart
    srv = Server(db, "--proxy-header", "X-Forwarded-For")
    port = srv.port
    try:
        st, js, _ = api_login(port, "alice", PW, "203.0.113.7")
        check(st == 429, "the lock-out of (alice, 203.0.113.7) survives a restart", st)
        st, js, _ = api_login(port, "alice", PW, "198.51.100.9")
        check(st == 200, "alice from another address still logs in after the restart", st)
    finally:
        srv.stop()
    finish("all hardening checks passed")


def body(port, db):
    # --- 8. open redirect: known bypasses all land on "/"
    bypasses = ["//evil.example", "/\t/evil.example", "/%09/evil.example", "/\\evil.example",
                "\\/evil.example", "/\\/evil.example", "https://evil.example", "/\n/evil.example",
                "/\r\n/evil.example", " //evil.example", "/ /evil.example", "http:evil.example",
                "//evil.example/%2F..", "/\x0b/evil.example", "/\x7f/evil.example",
                "javascript:alert(1)", "/\\\\evil.example", "///evil.example", ""]
    for nxt in bypasses:
        nd = nxt.replace("%09", "\t")  # a form posts the decoded value
        st, loc = form_login_location(port, nd)
        check(st == 303 and loc == "/", "login next=%r redirects to /" % nxt, (st, loc))
    st, loc = form_login_location(port, "/runs/3?tab=segments")
    check(st == 303 and loc == "/runs/3?tab=segments", "a local next path is kept", loc)

    # --- 9. slow clients: 80 connections from 127.0.0.2 trickling a header
    # (more than --max-connections 64: without a per-address limit they
    # would take every slot)
    socks = []
    t0 = time.time()
    for _ in range(80):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", port))
            s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError:
            s.close()
    ok = 0
    for _ in range(3):
        for s in socks:
            try:
                s.send(b"X")
            except OSError:
                pass
        t1 = time.time()
        try:
            st, js, _ = req(port, "GET", "/healthz", timeout=3)
            ok += st == 200 and time.time() - t1 < 2
        except OSError:
            pass
        time.sleep(0.3)
    check(ok == 3, "/healthz answers while 80 connections trickle from one address", ok)
    # the server closed the ones over the per-address limit (8)
    open_ = 0
    for s in socks:
        try:
            s.send(b"X")
            s.settimeout(0.2)
            d = s.recv(1)
            open_ += d != b""
        except socket.timeout:
            open_ += 1
        except OSError:
            pass
        s.close()
    check(open_ <= 8, "at most --max-per-address (8) of them were kept open", open_)

    st, js, _ = api_login(port, "ana", PW)
    st, js, hd = req(port, "POST", "/api/v1/login", {"name": "ana", "password": PW})
    cookie = hd["set-cookie"].split(";")[0]
    auth = {"Cookie": cookie, "X-CSRF-Token": js["csrf"]}

    # --- 12. a declared Content-Length over the limit: 413 before the body
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    hdr = ("POST /api/v1/datasets HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nX-CSRF-Token: %s\r\n"
           "Content-Type: text/csv\r\nContent-Length: 50000000\r\n\r\n" % (cookie, js["csrf"]))
    t1 = time.time()
    s.sendall(hdr.encode())
    got = b""
    try:
        while b"\r\n\r\n" not in got:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except socket.timeout:
        pass
    s.close()
    check(got.startswith(b"HTTP/1.1 413") and time.time() - t1 < 3,
          "Content-Length over --max-upload: 413 at once, no body sent", got[:40])
    # invalid UTF-8 in the upload name: kept (U+FFFD), present in the answer
    csv = b"customer_id,date,amount\na,2024-01-01,1\n"
    st, jd, _ = req(port, "POST", "/api/v1/datasets?name=" + urllib.parse.quote(b"caf\xe9\xff.csv"), csv,
                    dict(auth, **{"Content-Type": "text/csv"}))
    name = (jd or {}).get("dataset", jd or {}).get("name") if isinstance(jd, dict) else None
    check(st in (200, 201) and name == "caf\ufffd\ufffd.csv", "invalid UTF-8 in a name becomes U+FFFD",
          (st, jd))
    st, jl, _ = req(port, "GET", "/api/v1/datasets", headers=auth)
    names = [d.get("name") for d in (jl or {}).get("datasets", [])]
    check(st == 200 and "caf\ufffd\ufffd.csv" in names, "the dataset list names it", names)

    # --- 10. a flood of 401s is aggregated, the log bounded
    for _ in range(300):
        req(port, "GET", "/api/v1/runs")
    time.sleep(0.5)
    con = sqlite3.connect(db)
    rows, total = con.execute("SELECT count(*), sum(repeats) FROM web_requests "
                              "WHERE path = '/api/v1/runs' AND status = 401").fetchone()
    con.close()
    check(total == 300 and rows < 100, "300 identical 401s stored as %s rows with repeats" % rows,
          (rows, total))

    # --- 11. lock-out per user and address (addresses from --proxy-header)
    for _ in range(6):
        st, _, _ = api_login(port, "alice", "wrong-password", "203.0.113.7")
    check(st == 429, "6 failed logins of alice from 203.0.113.7 -> 429", st)
    st, _, _ = api_login(port, "alice", PW, "203.0.113.7")
    check(st == 429, "alice from that address stays locked out with the right password", st)
    st, _, _ = api_login(port, "alice", PW, "198.51.100.9")
    check(st == 200, "alice from another address logs in", st)
    st, _, _ = api_login(port, "ana", PW, "203.0.113.7")
    check(st == 200, "another user behind the same address logs in", st)


if __name__ == "__main__":
    main()
