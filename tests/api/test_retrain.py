#!/usr/bin/env python3
"""API test of the admin action retrain (issue 7), run by ctest:
    test_retrain.py TESSERA_BINARY BUILD_DIR
Starts `tessera serve` on a free loopback port with a temporary database,
uploads two overlapping files (the second repeats the first's rows with the
same transaction ids), and checks POST /api/v1/retrain: admin only (403 for
an analyst), 400 for a bad date, the first call promotes (nothing promoted
before) on both uploads' union, a second call is evaluated against it and
promoted only by the rule, force promotes, and the Users page shows the
Retrain button. Standard library only."""
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile

TSR = os.path.abspath(sys.argv[1])
FAILS = []
ENV = dict(os.environ, TESSERA_TEST_FAST_HASH="1", TESSERA_NO_PROGRESS="1")


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond or not detail else ": " + str(detail)))
    if not cond:
        FAILS.append(what)


def req(port, method, path, token, body=None, ctype="application/json"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    h = {"Authorization": "Bearer " + token} if token else {}
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    if body is not None:
        h["Content-Type"] = ctype
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    js = json.loads(data.decode()) if r.getheader("content-type", "").startswith("application/json") else None
    return r.status, js, data


def token(port, name, pw):
    st, js, _ = req(port, "POST", "/api/v1/login", None, {"name": name, "password": pw, "token": True})
    if st != 200:
        raise SystemExit("login %s: %d %s" % (name, st, js))
    return js["token"]


def main():
    tmp = tempfile.mkdtemp(prefix="tsr-retrain-")
    db = os.path.join(tmp, "web.db")
    pw = "correct-horse-battery"
    for name, role in (("root", "admin"), ("ana", "analyst")):
        subprocess.run([TSR, "user", "add", name, "--role", role, "--db", db], input=pw + "\n",
                       text=True, env=ENV, check=True, capture_output=True)
    sim = subprocess.run([TSR, "simulate", "--customers", "300", "--seed", "5", "--weeks", "52",
                          "--start", "2024-01-01"], text=True, env=ENV, check=True,
                         capture_output=True).stdout.splitlines()
    head, rows = "tx_id," + sim[0], ["%d,%s" % (i + 1, r) for i, r in enumerate(sim[1:])]
    first = "\n".join([head] + rows[: len(rows) * 2 // 3]) + "\n"
    full = "\n".join([head] + rows) + "\n"
    srv = subprocess.Popen([TSR, "serve", "--listen", "127.0.0.1:0", "--db", db], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        line = srv.stdout.readline()
        port = int(line.strip().rsplit(":", 1)[1])
        admin, analyst = token(port, "root", pw), token(port, "ana", pw)
        for name, text in (("first.csv", first), ("full.csv", full)):
            st, js, _ = req(port, "POST", "/api/v1/datasets?name=" + name, analyst, text.encode(), "text/csv")
            check(st == 201, "upload " + name, (st, js))
        st, js, _ = req(port, "POST", "/api/v1/retrain", analyst, {})
        check(st == 403, "retrain needs an admin", (st, js))
        st, js, _ = req(port, "POST", "/api/v1/retrain", admin, {"since": "yesterday-ish"})
        check(st == 400 and js["error"]["code"] == "EINVAL", "a bad date is 400 EINVAL", (st, js))
        st, js, _ = req(port, "POST", "/api/v1/retrain", admin, {})
        check(st == 200 and js["promoted"] is True and js["datasets"] == [1, 2], "first retrain promotes", (st, js))
        check(st == 200 and js["customers"] == 300, "fit on the union of both uploads (300 customers)", js)
        nfirst = len(rows) * 2 // 3
        check(st == 200 and js["duplicates_dropped"] == nfirst,
              "rows of the first upload repeated in the second are dropped (%d)" % nfirst, js)
        st, js, _ = req(port, "POST", "/api/v1/retrain", admin, {"id_col": "tx_id", "force": True})
        check(st == 200 and js["duplicates_dropped"] == nfirst, "the same by transaction id", js)
        st, js, _ = req(port, "POST", "/api/v1/retrain", admin, {"datasets": [2]})
        ok = st == 200 and js["previous_model_id"] is not None
        check(ok, "second retrain compares with the promoted version", (st, js))
        if ok:
            rule = (js["holdout_mae"] <= js["previous_holdout_mae"] * (1 + 1e-9) + 1e-9 and
                    js["calibration_loglik"] >= js["previous_calibration_loglik"]
                    - 1e-9 * abs(js["previous_calibration_loglik"]) - 1e-9)
            check(js["promoted"] == rule, "promoted exactly by the rule", js)
        st, js, _ = req(port, "POST", "/api/v1/retrain", admin, {"force": True})
        check(st == 200 and js["promoted"] is True, "force promotes", (st, js))
        st, js, _ = req(port, "GET", "/api/v1/models?kind=bgnbd", admin)
        promoted = [m for m in js["models"] if m.get("promoted")] if st == 200 else []
        check(len(promoted) == 1, "exactly one promoted bgnbd version", js)
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=30)
        except subprocess.TimeoutExpired:
            srv.kill()
    if FAILS:
        print("%d failures: %s" % (len(FAILS), ", ".join(FAILS)))
        sys.exit(1)
    print("all retrain API checks passed")


main()
