#!/usr/bin/env python3
"""Graceful shutdown of `tessera serve` (issue 6), run by ctest:
    test_shutdown.py TESSERA_BINARY BUILD_DIR
A job is running when SIGTERM arrives: the server exits 0, the run is
marked interrupted with no customer rows written (nothing half-written), and
the request log is flushed. Standard library only."""
import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, analyst_token, check, finish, request, run, temp_dir  # noqa: E402


def req(port, method, path, body=None, token=None, ctype="application/json"):
    st, js, data, _ = request(port, method, path, body, token, ctype=ctype if body is not None else None)
    return st, js if js is not None else data


def main():
    tmp = temp_dir("stop")
    db = os.path.join(tmp, "w.db")
    token = analyst_token(db, "long-password")
    tx = os.path.join(tmp, "tx.csv")
    run("simulate", "--customers", "60000", "--seed", "2", "-o", tx)
    srv = Server(db)
    port = srv.port
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
    rc = srv.stop(timeout=60)
    check(rc == 0, "SIGTERM during a job: exit 0", rc)
    check("shutting down" in srv.err, "SIGTERM during a job: the shutdown is said", srv.err)
    con = sqlite3.connect(db)
    status, error = con.execute("SELECT status, error FROM runs WHERE id = ?", (run_id,)).fetchone()
    ncust = con.execute("SELECT count(*) FROM customers WHERE run_id = ?", (run_id,)).fetchone()[0]
    nreq = con.execute("SELECT count(*) FROM web_requests").fetchone()[0]
    con.close()
    if state == "done":
        print("note: the job finished before SIGTERM; interruption not exercised")
    else:
        check(status == "interrupted", "the run is marked interrupted", (status, error))
        check(ncust == 0, "no customer rows of an interrupted run", ncust)
    check(nreq >= 4, "the request log is flushed (at least 4 rows)", nreq)
    finish("ok   SIGTERM during a job: exit 0, run %d %s, no customer rows, %d requests logged"
           % (run_id, status, nreq))


if __name__ == "__main__":
    main()
