#!/usr/bin/env python3
"""API test of the message preview's personal fields (issue 15), run by ctest:
    test_message_person.py TESSERA_BINARY BUILD_DIR
A simulated bundle whose customers.csv gets an opt_out column is analysed;
POST /api/v1/runs/{id}/customers/{cid}/message then greets with the first
word of the customer's name on channels that allow personal fields (sms,
email), never on push, answers "no message (opted out)" without variants
for an opted-out customer, uses the default for a customer without a name
and for a run without a bundle, and the name never reaches the server's
output or the request log. Standard library only."""
import csv
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

TSR = os.path.abspath(sys.argv[1])
FAILS = []
ENV = dict(os.environ, TESSERA_TEST_FAST_HASH="1", TESSERA_NO_PROGRESS="1")


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond or not detail else ": " + str(detail)))
    if not cond:
        FAILS.append(what)


def req(port, path, token, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", path, body=json.dumps(body).encode(),
              headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data.decode())


def main():
    tmp = tempfile.mkdtemp(prefix="tsr-msg-person-")
    db = os.path.join(tmp, "web.db")
    subprocess.run([TSR, "user", "add", "ana", "--role", "analyst", "--db", db], input="pw-pw-pw-pw\n", text=True,
                   env=ENV, check=True, capture_output=True)
    tok = subprocess.run([TSR, "user", "token", "ana", "--db", db], text=True, env=ENV, check=True,
                         capture_output=True).stdout.strip()
    bdir = os.path.join(tmp, "bundle")
    subprocess.run([TSR, "simulate", "--bundle", bdir, "--customers", "200", "--seed", "4"], env=ENV, check=True,
                   capture_output=True)
    path = os.path.join(bdir, "customers.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0].keys()) + ["opt_out"]
    out = os.path.join(tmp, "out")
    subprocess.run([TSR, "analyze", "--db", db, "-o", out, bdir], env=ENV, check=True, capture_output=True)
    prof = [r["customer_id"] for r in csv.DictReader(open(os.path.join(out, "profiles.csv"), encoding="utf-8"))]
    named = [r for r in rows if r["customer_id"] in prof and r["name"].strip()]
    check(len(named) >= 3, "bundle: customers with a name", len(named))
    greet, optout, noname = named[0], named[1], named[2]
    for r in rows:
        r["opt_out"] = "yes" if r is optout else ("0" if r is greet else "")
    noname["name"] = ""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
        w.writerow(dict(greet, name="Other Person", opt_out="yes"))  # a repeated id: the first row counts
    first = greet["name"].split()[0]
    run = int(sqlite3.connect(db).execute("select max(id) from runs").fetchone()[0])

    tx = os.path.join(tmp, "tx.csv")  # a run without a bundle
    subprocess.run([TSR, "simulate", "--customers", "50", "--seed", "2", "-o", tx], env=ENV, check=True,
                   capture_output=True)
    subprocess.run([TSR, "analyze", "--db", db, "-o", os.path.join(tmp, "out2"), tx], env=ENV, check=True,
                   capture_output=True)
    run2 = int(sqlite3.connect(db).execute("select max(id) from runs").fetchone()[0])
    plain = next(csv.DictReader(open(os.path.join(tmp, "out2", "customers.csv"))))["customer_id"]

    srv = subprocess.Popen([TSR, "serve", "--listen", "127.0.0.1:0", "--db", db], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=ENV)
    line = srv.stdout.readline()
    if "listening" not in line:
        srv.kill()
        raise SystemExit("serve did not start: " + line + srv.stderr.read())
    port = int(line.strip().rsplit(":", 1)[1])
    tpl = "[channel=sms]\nHi {first_name|there}, news for you\n[channel=push]\nHi {first_name|there}, news\n" \
          "[channel=email]\nDear {first_name|customer},\nnews\n"
    url = "/api/v1/runs/%d/customers/%s/message"
    try:
        st, m = req(port, url % (run, greet["customer_id"]), tok, {"channel": "sms", "templates": tpl})
        check(st == 200 and m["variants"][0]["text"] == "Hi %s, news for you" % first and m["fields"]["first_name"] == first
              and m["opted_out"] is False, "sms: the first word of the bundle's name", m)
        st, m = req(port, url % (run, greet["customer_id"]), tok, {"channel": "email", "templates": tpl})
        check(st == 200 and m["variants"][0]["text"] == "Dear %s,\nnews" % first, "email: the first name", m)
        st, m = req(port, url % (run, greet["customer_id"]), tok, {"channel": "push", "templates": tpl})
        check(st == 200 and m["variants"][0]["text"] == "Hi there, news" and not m["personal"],
              "push: no personal field, the default", m)
        st, m = req(port, url % (run, optout["customer_id"]), tok, {"channel": "sms", "templates": tpl})
        check(st == 200 and m["opted_out"] is True and m["variants"] == [] and m["note"] == "no message (opted out)",
              "an opted-out customer: no message (opted out), no variant", m)
        st, m = req(port, url % (run, noname["customer_id"]), tok, {"channel": "sms", "templates": tpl})
        check(st == 200 and m["variants"][0]["text"] == "Hi there, news for you" and m["fields"]["first_name"] is None,
              "no name: the default", m)
        # customers.csv is indexed once per version: a changed file is read again
        rows2 = [dict(r, name="Zelda Q") if r is greet else r for r in rows]
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows2)
        os.utime(path, (time.time() + 5, time.time() + 5))
        st, m = req(port, url % (run, greet["customer_id"]), tok, {"channel": "sms", "templates": tpl})
        check(st == 200 and m["variants"][0]["text"] == "Hi Zelda, news for you",
              "a changed customers.csv is read again", m)
        st, m = req(port, url % (run, optout["customer_id"]), tok, {"channel": "sms", "templates": tpl})
        check(st == 200 and m["opted_out"] is True, "opt-out still known from the new version", m)
        st, m = req(port, url % (run2, plain), tok, {"channel": "sms", "templates": tpl})
        check(st == 200 and m["variants"][0]["text"] == "Hi there, news for you" and m["opted_out"] is False,
              "a run without a bundle: the default", m)
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            _, err = srv.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            srv.kill()
            _, err = srv.communicate()
    logged = "\n".join(" ".join(str(x) for x in r) for r in sqlite3.connect(db).execute("select * from web_requests"))
    check(first not in err and first not in logged and optout["name"] not in logged,
          "names are in no log (server output, request log)")
    if FAILS:
        print("%d failures: %s" % (len(FAILS), ", ".join(FAILS)))
        sys.exit(1)
    print("all message person checks passed")


if __name__ == "__main__":
    main()
