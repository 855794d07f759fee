#!/usr/bin/env python3
"""Graceful shutdown of `tessera serve` (issue 6), run by ctest:
    test_shutdown.py TESSERA_BINARY BUILD_DIR
A job is running when SIGTERM arrives: the server exits 0, the run is
marked interrupted with no customer rows written (nothing half-written), and
the request log is flushed. Standard library only."""
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
ENV = dict(os.environ, TESSERA_TEST_FAST_HASH="1", TESSERA_NO_PROGRESS="1")


def req(port, method, path, body=None, token=None, ctype="application/json"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {"Authorization": "Bearer " + token} if token else {}
    if body is not None:
        h["Content-Type"] = ctype
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data.startswith(b"{") else data


def main():
    tmp = tempfile.mkdtemp(prefix="tsr-stop-")
    db = os.path.join(tmp, "w.db")
    subprocess.run([TSR, "user", "add", "ana", "--role", "analyst", "--db", db], input="long-password\n",
                   text=True, check=True, env=ENV)
    token = subprocess.run([TSR, "user", "token", "ana", "--db", db], capture_output=True, text=True,
                           check=True, env=ENV).stdout.strip()
    tx = os.path.join(tmp, "tx.csv")
    subprocess.run([TSR, "simulate", "--customers", "60000", "--seed", "2", "-o", tx], check=True, env=ENV,
                   stdout=subprocess.DEVNULL)
    srv = subprocess.Popen([TSR, "serve", "--listen", "127.0.0.1:0", "--db", db], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=ENV)
    port = int(srv.stdout.readline().strip().rsplit(":", 1)[1])
    st, ds = req(port, "POST", "/api/v1/datasets?name=tx.csv", open(tx, "rb").read(), token, "text/csv")
    assert st == 201, (st, ds)
    st, js = req(port, "POST", "/api/v1/runs", json.dumps({"dataset_id": ds["id"]}), token)
    assert st == 202, (st, js)
    job_id = js["job"]["id"]
    run_id = None
    t0 = time.time()
    while time.time() - t0 < 60:
        st, js = req(port, "GET", "/api/v1/jobs/%d" % job_id, token=token)
        if js["job"]["run_id"]:
            run_id = js["job"]["run_id"]
            break
        time.sleep(0.02)
    state = js["job"]["state"]
    srv.send_signal(signal.SIGTERM)
    rc = srv.wait(timeout=60)
    err = srv.stderr.read()
    fails = []
    if rc != 0:
        fails.append("exit code %d: %s" % (rc, err))
    if "shutting down" not in err:
        fails.append("no shutdown message: " + err)
    con = sqlite3.connect(db)
    status, error = con.execute("SELECT status, error FROM runs WHERE id = ?", (run_id,)).fetchone()
    ncust = con.execute("SELECT count(*) FROM customers WHERE run_id = ?", (run_id,)).fetchone()[0]
    nreq = con.execute("SELECT count(*) FROM web_requests").fetchone()[0]
    con.close()
    if state == "done":
        print("note: the job finished before SIGTERM; interruption not exercised")
    else:
        if status != "interrupted":
            fails.append("run status %s, expected interrupted (%s)" % (status, error))
        if ncust != 0:
            fails.append("%d customer rows of an interrupted run" % ncust)
    if nreq < 4:
        fails.append("request log not flushed: %d rows" % nreq)
    for f in fails:
        print("FAIL " + f)
    if fails:
        sys.exit(1)
    print("ok   SIGTERM during a job: exit 0, run %d %s, no customer rows, %d requests logged" % (run_id, status, nreq))


if __name__ == "__main__":
    main()
