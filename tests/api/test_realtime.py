#!/usr/bin/env python3
"""Real-time HTTP endpoints of `tessera serve` (issue 14), run by ctest:
    test_realtime.py TESSERA_BINARY BUILD_DIR
A store analysed with `tessera analyze`, then the same log POSTed as NDJSON
to /api/v1/events (with duplicates and hostile lines): per-line answers,
idempotence by transaction id, roles, limits; live profiles equal the batch
customers.csv (1e-9) and `tessera profile`; a segment change reaches the
server-sent-events stream. Standard library only."""
import csv
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, add_users, finish, login_token, request, run, temp_dir  # noqa: E402
from harness import check as harness_check  # noqa: E402


def check(cond, what, detail=""):
    harness_check(cond, what, detail, limit=600)


def req(port, method, path, body=None, token=None, timeout=60):
    ctype = "application/x-ndjson" if body is not None else None
    st, js, _, hdrs = request(port, method, path, body, token, ctype=ctype, timeout=timeout)
    return st, js, hdrs


token = login_token


def close(a, b):
    if a is None or b in ("", None):
        return a is None and b in ("", None)
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))


def main():
    tmp = temp_dir("rt")
    db = os.path.join(tmp, "t.db")
    pw = "correct-horse-battery"
    add_users(db, (("ana", "analyst"), ("vic", "viewer")), pw)
    tx = os.path.join(tmp, "tx.csv")
    run("simulate", "--customers", "600", "--seed", "3", "-o", tx)
    run("analyze", tx, "-o", os.path.join(tmp, "res"), "--db", db)
    batch = {r["customer_id"]: r for r in csv.DictReader(open(os.path.join(tmp, "res", "customers.csv")))}
    end = max(r["last_purchase"] for r in batch.values())
    rows = list(csv.DictReader(open(tx)))
    lines = [json.dumps({"type": "transaction", "customer_id": r["customer_id"], "timestamp": r["timestamp"],
                         "amount": r["amount"], "transaction_id": r["transaction_id"],
                         "channel": r["channel"]}) for r in rows]
    with Server(db, "--threads", "3") as srv:
        body(srv.port, tmp, db, lines, batch, end, pw)
    check(srv.rc == 0, "SIGTERM stops the server cleanly (exit 0)", srv.rc)
    finish("all real-time checks passed")


def body(port, tmp, db, lines, batch, end, pw):
    st, js, _ = req(port, "POST", "/api/v1/events", "\n".join(lines[:3]))
    check(st == 401, "POST /api/v1/events without a login -> 401", st)
    vic = token(port, "vic", pw)
    ana = token(port, "ana", pw)
    st, js, _ = req(port, "POST", "/api/v1/events", "\n".join(lines[:3]), vic)
    check(st == 403, "a viewer may not post events -> 403", st)
    # hostile lines in the first batch, answered per line
    hostile = ['{"customer_id":"H1","date":"2024-02-30","amount":1}',
               '{"customer_id":"H1","date":"2024-02-01","amount":"12,50"}',
               'not json at all',
               '{"customer_id":"' + "x" * 300 + '","date":"2024-02-01","amount":1}',
               '{"type":"refund","customer_id":"H1","date":"2024-02-01","amount":1}',
               '{"customer_id":"H1","date":"2024-02-01","amount":1e999}']
    first = lines[:1000] + hostile + [lines[5]]  # lines[5] again: a duplicate in the same batch
    st, js, _ = req(port, "POST", "/api/v1/events", "\n".join(first), ana)
    check(st == 200 and js["accepted"] == 1000 and js["rejected"] == 6 and js["duplicates"] == 1,
          "first batch: 1000 accepted, 6 rejected, 1 duplicate", js and {k: js[k] for k in ("accepted", "rejected", "duplicates")})
    res = {x["line"]: x for x in js["results"]} if js else {}
    check(res.get(1001, {}).get("status") == "rejected" and
          res[1001]["error"] == "event:1001: error: timestamp: expected an ISO 8601 date or timestamp, got '2024-02-30'"
          or res.get(1001, {}).get("error", "").endswith("date: expected an ISO 8601 date or timestamp, got '2024-02-30'"),
          "bad date rejected with line, field and reason", res.get(1001))
    check(res.get(1002, {}).get("field") == "amount" and "expected a number, got '12,50'" in res[1002]["error"],
          "bad amount rejected like the CSV reader", res.get(1002))
    check(res.get(1003, {}).get("status") == "rejected", "non-JSON line rejected", res.get(1003))
    check(res.get(1004, {}).get("field") == "customer_id" and "at most 256 bytes" in res[1004]["error"],
          "over-long id rejected", res.get(1004))
    check(res.get(1005, {}).get("field") == "type", "unknown type rejected", res.get(1005))
    check(res.get(1006, {}).get("status") == "rejected", "non-finite amount rejected", res.get(1006))
    check(res.get(1007, {}).get("status") == "duplicate", "repeated transaction id -> duplicate", res.get(1007))
    nchg = js["segment_changes"] if js else 0
    check(nchg >= 100, "first events of new customers are segment changes", nchg)
    # the rest, in batches; one batch sent twice
    for i in range(1000, len(lines), 2500):
        st, js, _ = req(port, "POST", "/api/v1/events", "\n".join(lines[i:i + 2500]), ana)
        check(st == 200 and js["rejected"] == 0, "batch at %d accepted" % i, st)
    st, js, _ = req(port, "POST", "/api/v1/events", "\n".join(lines[1000:3500]), ana)
    n2 = len(lines[1000:3500])
    check(st == 200 and js["duplicates"] == n2 and js["accepted"] == 0,
          "a batch delivered twice is applied once (%d duplicates)" % n2, js and js["duplicates"])
    st, js, _ = req(port, "POST", "/api/v1/events", "\n".join([lines[0]] * 10001), ana)
    check(st == 413, "more than 10000 lines -> 413", st)
    # live profiles = batch
    ids = sorted(batch)[:: max(1, len(batch) // 60)]
    bad = []
    for cid in ids:
        st, p, _ = req(port, "GET", "/api/v1/profiles/%s?at=%s" % (cid, end), token=vic)
        b = batch[cid]
        if st != 200:
            bad.append((cid, st))
            continue
        s, sc = p["summary"], p["scores"]
        ok = all(close(s[k], b[k]) for k in ("frequency", "recency", "T", "monetary_value", "revenue")) and \
            close(sc["p_alive"], b["p_alive"]) and close(sc["clv"], b["clv"]) and \
            close(sc["expected_purchases"], b["expected_purchases"]) and \
            p["segment"] == b["segment"] and sc["rfm_cell"] == b["rfm_cell"] and str(p["cluster"]) == b["cluster"]
        if not ok:
            bad.append((cid, p, b))
    check(not bad, "%d live profiles equal the batch customers.csv (1e-9)" % len(ids), bad[:2])
    cid = ids[0]
    st, p, _ = req(port, "GET", "/api/v1/profiles/%s?at=%s" % (cid, end), token=vic)
    cli = json.loads(run("profile", cid, "--at", end, "--db", db))
    check(cli == p, "tessera profile prints what the API returns", (cli, p))
    st, js, _ = req(port, "GET", "/api/v1/profiles/nobody?at=%s" % end, token=vic)
    check(st == 404, "unknown customer -> 404", st)
    st, js, _ = req(port, "GET", "/api/v1/profiles/%s?at=1999-01-01" % cid, token=vic)
    check(st == 400 and "at or after its latest event" in js["error"]["message"], "at before the latest event -> 400", js)
    # server-sent events: a new customer's first purchase is a change
    got = []

    def listen():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/api/v1/stream/segment-changes?timeout=3", headers={"Authorization": "Bearer " + vic})
        r = c.getresponse()
        got.append(r.getheader("Content-Type"))
        got.append(r.read().decode())
        c.close()

    t = threading.Thread(target=listen)
    t.start()
    time.sleep(0.7)
    ev = json.dumps({"customer_id": "NEW-1", "date": end, "amount": 99.5, "transaction_id": "NEW-T1"})
    st, js, _ = req(port, "POST", "/api/v1/events", ev, ana)
    check(st == 200 and js["segment_changes"] == 1, "a new customer's purchase changes its segment", js)
    t.join()
    data = [json.loads(l[6:]) for l in (got[1] if len(got) > 1 else "").splitlines() if l.startswith("data: ")]
    check(got and got[0].startswith("text/event-stream") and any(d["customer_id"] == "NEW-1" and d["old_segment"] is None
                                                               and d["new_segment"] and d["event"]["transaction_id"] == "NEW-T1"
                                                               for d in data),
          "the change reaches /api/v1/stream/segment-changes", got[1:][:1])


if __name__ == "__main__":
    main()
