#!/usr/bin/env python3
"""API test of the offer decisions (issue 15), run by ctest:
    test_decisions.py TESSERA_BINARY BUILD_DIR
Analyses a simulated log into a temporary database, starts `tessera serve
--offers` on a free loopback port and checks POST /api/v1/decisions and
POST /api/v1/decisions/{id}/reward: roles, eligibility rules, propensities
with the exploration floor, the errors (unknown customer, bad body, reward
for an unknown decision, a second reward, a reward that is not 0/1), the
decisions and rewards stored, and the policy state after a restart (the
reward counted once), and a new run picked up without a restart.
Standard library only."""
import csv
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ENV, PG_URL, TSR, Server, add_users, check, finish, request, run, store,  # noqa: E402
                     temp_dir, user_token)

DATA_ARGS = []


def req(port, method, path, token, body=None):
    st, js, _, _ = request(port, method, path, body, token)
    return st, js


def start(db, offers, extra=()):
    srv = Server(db, *DATA_ARGS, *(["--offers", offers] if offers else []), *extra)
    return srv, srv.port


def bundle_offers(tmp, db, token, known):
    """The bundle's offers.csv (tessera simulate --bundle) on a bundle run:
    the rules' profile fields (age, holds ...) come from its profiles.csv.
    The bundle is analysed while serve runs on the previous run (known: one
    of its customers): serve picks the new run up without a restart."""
    bdir = os.path.join(tmp, "bundle")
    run("simulate", "--bundle", bdir, "--customers", "300", "--seed", "5")
    srv, port = start(db, os.path.join(bdir, "offers.csv"))
    try:
        st, js = req(port, "POST", "/api/v1/decisions", token, {"customer_id": "C0000001"})
        check(st == 404 and "not found in run" in js["error"]["message"],
              "before the bundle run: its customer is unknown", (st, js))
        st0, js0 = req(port, "GET", "/api/v1/decisions", token)
        out = os.path.join(tmp, "bout")
        run("analyze", "--db", db, "-o", out, bdir, *DATA_ARGS)
        t0 = time.time()
        while time.time() - t0 < 20:
            st, js = req(port, "POST", "/api/v1/decisions", token, {"customer_id": "C0000001"})
            if st != 404:
                break
            time.sleep(0.2)
        waited = time.time() - t0
        st2, js2 = req(port, "GET", "/api/v1/decisions", token)
        check(st == 200 and js["run_id"] > js0["run_id"] and js2["run_id"] == js["run_id"],
              "a new run is used without a restart (%.1f s after it finished)" % waited, (st, js, js0, js2))
        check(waited < 5, "the new run is seen within 5 s (checked every second)", waited)
        st, js = req(port, "POST", "/api/v1/decisions", token, {"customer_id": known})
        check(st == 404, "a customer of the previous run only is unknown now", (st, js))
        prof = {}
        for r in csv.DictReader(open(os.path.join(out, "profiles.csv"))):
            prof[r["customer_id"]] = r
        old = [c for c, r in prof.items() if r["age"] and float(r["age"]) > 30]
        young = [c for c, r in prof.items() if r["age"] and 18 <= float(r["age"]) <= 25]
        card = [c for c, r in prof.items() if "credit_card" in r["products"].split(";")]
        check(len(old) >= 20 and len(young) >= 3 and len(card) >= 5, "bundle: old, young and card holders",
              (len(old), len(young), len(card)))
        got = {"old": set(), "young": set(), "card": set()}
        for group, ids, n in (("old", old, 300), ("young", young, 200), ("card", card, 200)):
            for i in range(n):
                st, js = req(port, "POST", "/api/v1/decisions", token, {"customer_id": ids[i % len(ids)]})
                if st != 200:
                    check(False, "bundle decision for a %s customer" % group, (st, js))
                    break
                got[group].add(js["offer_id"])
        check("OF-STUDENT" not in got["old"] and len(got["old"]) >= 3,
              "a customer over 25 never gets OF-STUDENT (age <= 25), 300 decisions", got["old"])
        check("OF-STUDENT" in got["young"], "customers aged 18-25 get OF-STUDENT", got["young"])
        check("OF-CARD-CASHBACK" not in got["card"],
              "a card holder never gets OF-CARD-CASHBACK (not holds credit_card), 200 decisions", got["card"])
    finally:
        srv.stop()


def window_checks(db, offers, token, custs):
    """--decision-window 64: decisions older than the last 64 (and those of
    an earlier process) are looked up in the store; a reward for one counts
    once, also when sent concurrently, and an unknown one is 404."""
    import threading
    srv, port = start(db, offers, ["--decision-window", "64"])
    try:
        req(port, "POST", "/api/v1/decisions", token, {"customer_id": custs[0]})  # loads the state
        st, js0 = req(port, "GET", "/api/v1/decisions", token)
        ids = []
        for i in range(150):
            st, js = req(port, "POST", "/api/v1/decisions", token, {"customer_id": custs[i % len(custs)]})
            if st != 200:
                check(False, "decision %d with a window of 64" % i, (st, js))
                return
            ids.append(js["decision_id"])
        time.sleep(0.2)  # the writer stores them (every 20 ms)
        st, js = req(port, "GET", "/api/v1/decisions/" + ids[0], token)
        check(st == 200 and js["reward"] is None and js["customer_id"] == custs[0],
              "a decision outside the window is read from the store", (st, js))
        st, js = req(port, "POST", "/api/v1/decisions/%s/reward" % ids[0], token, {"reward": 1})
        check(st == 200 and js["recorded"] is True, "a reward for a decision outside the window", (st, js))
        st, js = req(port, "POST", "/api/v1/decisions/%s/reward" % ids[0], token, {"reward": 0})
        check(st == 409 and js["error"]["code"] == "EEXIST", "a second reward outside the window: 409", (st, js))
        st, js = req(port, "GET", "/api/v1/decisions/" + ids[0], token)
        check(st == 200 and js["reward"] == 1.0, "its reward is shown", (st, js))
        bad = ids[-1][:-10] + "%010x" % (int(ids[-1][-10:], 16) + 5)  # a counter not reached yet
        st, js = req(port, "POST", "/api/v1/decisions/%s/reward" % bad, token, {"reward": 1})
        check(st == 404, "a reward for a decision id not made yet: 404", (st, js))
        # 8 concurrent rewards for one decision outside and one inside the window: one counts
        for d, where in ((ids[5], "outside"), (ids[-1], "inside")):
            res = []
            def one():
                res.append(req(port, "POST", "/api/v1/decisions/%s/reward" % d, token, {"reward": 1})[0])
            th = [threading.Thread(target=one) for _ in range(8)]
            for t in th:
                t.start()
            for t in th:
                t.join()
            check(sorted(res) == [200] + [409] * 7, "8 concurrent rewards %s the window: one recorded" % where, res)
        # a reward made in the window, then the decision leaves it: still refused twice
        st, js = req(port, "POST", "/api/v1/decisions/%s/reward" % ids[-2], token, {"reward": 0})
        check(st == 200, "a reward inside the window", (st, js))
        for i in range(70):
            req(port, "POST", "/api/v1/decisions", token, {"customer_id": custs[i % len(custs)]})
        st, js = req(port, "POST", "/api/v1/decisions/%s/reward" % ids[-2], token, {"reward": 1})
        check(st == 409, "after it left the window, a second reward is refused", (st, js))
        st, js = req(port, "GET", "/api/v1/decisions", token)
        check(st == 200 and js["rewards"] - js0["rewards"] == 4 and js["decisions"] - js0["decisions"] == 220,
              "4 rewards counted, 220 decisions", (js0, js))
    finally:
        srv.stop()
    srv, port = start(db, offers, ["--decision-window", "64"])
    try:
        req(port, "POST", "/api/v1/decisions", token, {"customer_id": custs[0]})  # loads the state
        st, js = req(port, "GET", "/api/v1/decisions", token)
        check(st == 200 and js["rewards"] - js0["rewards"] == 4 and js["decisions"] - js0["decisions"] == 221,
              "after a restart: the 4 rewards replayed once", (js0, js))
        st, js = req(port, "POST", "/api/v1/decisions/%s/reward" % ids[5], token, {"reward": 1})
        check(st == 409, "after a restart a second reward for an old decision is refused", (st, js))
        st, js = req(port, "POST", "/api/v1/decisions/%s/reward" % ids[7], token, {"reward": 1})
        check(st == 200, "after a restart a first reward for an old decision is recorded", (st, js))
        st, js = req(port, "GET", "/api/v1/decisions/" + ids[7], token)
        check(st == 200 and js["reward"] == 1.0, "and shown", (st, js))
    finally:
        srv.stop()
    r = subprocess.run([TSR, "serve", "--db", db, "--offers", offers, "--decision-window", "10"] + DATA_ARGS,
                       text=True, env=ENV, capture_output=True, timeout=30)
    check(r.returncode == 2 and "--decision-window" in r.stderr, "--decision-window 10: usage error", (r.returncode, r.stderr))


def main():
    tmp = temp_dir("decisions")
    pg_url = PG_URL  # tests/pg/with_pg.sh (ctest api/test_decisions_pg)
    db = store(tmp, pg=True)
    global DATA_ARGS
    DATA_ARGS = ["--data-dir", os.path.join(tmp, "data")] if pg_url else []
    add_users(db, (("ana", "analyst"), ("vic", "viewer")), "pw-pw-pw-pw")
    tok = {n: user_token(db, n) for n in ("ana", "vic")}
    tx = os.path.join(tmp, "tx.csv")
    run("simulate", "--customers", "400", "--seed", "9", "-o", tx)
    out = os.path.join(tmp, "out")
    run("analyze", "--db", db, "-o", out, tx)
    custs = list(csv.DictReader(open(os.path.join(out, "customers.csv"))))
    poor = [c["customer_id"] for c in custs if float(c["monetary_value"] or 0) < 20]
    rich = [c["customer_id"] for c in custs if float(c["monetary_value"] or 0) >= 20]
    offers = os.path.join(tmp, "offers.csv")
    with open(offers, "w") as f:
        f.write("offer_id,name,eligible\nO1,cashback,\nO2,premium card,monetary_value >= 20\nO3,points,\n")

    srv, port = start(db, None)
    try:
        st, js = req(port, "POST", "/api/v1/decisions", tok["ana"], {"customer_id": poor[0]})
        check(st == 503 and js["error"]["code"] == "EUNSUPPORTED", "without --offers: 503", (st, js))
    finally:
        srv.stop()

    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w") as f:
        f.write("offer_id,eligible\nO1,shoe_size > 3\n")
    r = subprocess.run([TSR, "serve", "--listen", "127.0.0.1:0", "--db", db, "--offers", bad] + DATA_ARGS, text=True,
                       env=ENV, capture_output=True, timeout=30)
    check(r.returncode == 3 and "bad.csv:2:4: error: eligible: unknown field 'shoe_size'" in r.stderr,
          "a bad eligibility rule stops serve with FILE:LINE:COLUMN", (r.returncode, r.stderr))
    # the bundle's syntax, quoted (column 4 is the quote): ')' missing at rule character 29
    with open(bad, "w") as f:
        f.write('offer_id,eligible\nO1,age >= 18 and not holds credit_card\nO2,"income_band in (middle, high"\n')
    r = subprocess.run([TSR, "serve", "--listen", "127.0.0.1:0", "--db", db, "--offers", bad] + DATA_ARGS, text=True,
                       env=ENV, capture_output=True, timeout=30)
    check(r.returncode == 3 and "bad.csv:3:33: error: eligible: expected ',' or ')' in the list of income_band"
          in r.stderr, "an unclosed in-list stops serve with FILE:LINE:COLUMN", (r.returncode, r.stderr))

    srv, port = start(db, offers)
    ids = []
    try:
        st, js = req(port, "POST", "/api/v1/decisions", tok["vic"], {"customer_id": poor[0]})
        check(st == 403, "a viewer may not decide", (st, js))
        st, js = req(port, "POST", "/api/v1/decisions", tok["ana"], {"customer_id": poor[0]})
        check(st == 200 and set(js) >= {"decision_id", "offer_id", "propensity", "policy", "segment"},
              "a decision has decision_id, offer_id, propensity", (st, js))
        check(st == 200 and js["policy"] == "thompson", "default policy thompson", js)
        got_o2 = False
        for c in poor[:40]:
            st, js = req(port, "POST", "/api/v1/decisions", tok["ana"], {"customer_id": c})
            if st != 200:
                check(False, "decision for " + c, (st, js))
                break
            ids.append(js["decision_id"])
            got_o2 |= js["offer_id"] == "O2"
            # two eligible offers: floor 0.01/2
            if not (0.005 - 1e-12 <= js["propensity"] <= 1):
                check(False, "propensity within [0.005, 1]", js)
        check(not got_o2, "an offer is never made to an ineligible customer (40 decisions)")
        seen = set()
        for c in rich[:60]:
            st, js = req(port, "POST", "/api/v1/decisions", tok["ana"], {"customer_id": c})
            seen.add(js["offer_id"])
            ids.append(js["decision_id"])
        check(seen <= {"O1", "O2", "O3"} and len(seen) >= 2, "eligible customers see several offers", seen)
        st, js = req(port, "POST", "/api/v1/decisions", tok["ana"], {"customer_id": "nobody"})
        check(st == 404 and js["error"]["code"] == "ENOTFOUND", "unknown customer: 404", (st, js))
        st, js = req(port, "POST", "/api/v1/decisions", tok["ana"], b"{not json")
        check(st == 400 and js["error"]["code"] == "EPARSE", "a bad body: 400 EPARSE", (st, js))
        st, js = req(port, "POST", "/api/v1/decisions", tok["ana"], {"customer": "x"})
        check(st == 400 and "customer_id" in js["error"]["message"], "missing customer_id: 400", (st, js))
        d = ids[0]
        st, js = req(port, "POST", "/api/v1/decisions/%s/reward" % d, tok["ana"], {"reward": 1})
        check(st == 200 and js["recorded"] is True, "a reward is recorded", (st, js))
        st, js = req(port, "POST", "/api/v1/decisions/%s/reward" % d, tok["ana"], {"reward": 1})
        check(st == 409 and js["error"]["code"] == "EEXIST", "a second reward: 409 EEXIST", (st, js))
        st, js = req(port, "POST", "/api/v1/decisions/nope/reward", tok["ana"], {"reward": 1})
        check(st == 404 and js["error"]["code"] == "ENOTFOUND", "reward for an unknown decision: 404", (st, js))
        st, js = req(port, "POST", "/api/v1/decisions/%s/reward" % ids[1], tok["ana"], {"reward": 2})
        check(st == 400 and js["error"]["code"] == "EINVAL", "reward 2 with binary rewards: 400", (st, js))
        st, js = req(port, "POST", "/api/v1/decisions/%s/reward" % ids[1], tok["ana"], {"reward": 0})
        check(st == 200, "reward 0 after a refused one", (st, js))
        st, js = req(port, "GET", "/api/v1/decisions", tok["ana"])
        check(st == 200 and js["rewards"] == 2 and js["decisions"] == 101, "2 rewards, 101 decisions", js)
    finally:
        srv.stop()
    if not pg_url:
        con = sqlite3.connect(db)
        n, nr, s = con.execute("select count(*), count(reward), sum(reward) from act_decisions").fetchone()
        con.close()
        check((n, nr, s) == (101, 2, 1.0), "stored: 101 decisions, 2 rewards summing to 1", (n, nr, s))

    srv, port = start(db, offers)
    try:
        st, js = req(port, "GET", "/api/v1/decisions/" + ids[0], tok["ana"])
        check(st == 200 and js["reward"] == 1.0 and js["offer_id"] in ("O1", "O3"),
              "after a restart the decision and its reward are known", (st, js))
        st, js = req(port, "POST", "/api/v1/decisions/%s/reward" % ids[0], tok["ana"], {"reward": 1})
        check(st == 409, "after a restart a second reward is still refused", (st, js))
        st, js = req(port, "GET", "/api/v1/decisions", tok["ana"])
        check(st == 200 and js["rewards"] == 2 and js["decisions"] == 101,
              "policy state replayed: 2 rewards counted once", js)
        st, js = req(port, "POST", "/api/v1/decisions", tok["ana"], {"customer_id": rich[0]})
        check(st == 200 and js["decision_id"] not in ids, "new decision ids after a restart", (st, js))
    finally:
        srv.stop()
    window_checks(db, offers, tok["ana"], rich)
    bundle_offers(tmp, db, tok["ana"], rich[0])
    finish("all decisions API checks passed")


if __name__ == "__main__":
    main()
