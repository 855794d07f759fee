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
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, add_users, check, finish, login_token, request, run, temp_dir  # noqa: E402


def req(port, method, path, token, body=None, ctype="application/json"):
    st, js, data, _ = request(port, method, path, body, token, ctype=ctype if body is not None else None,
                              timeout=120)
    return st, js, data


token = login_token


def main():
    tmp = temp_dir("retrain")
    db = os.path.join(tmp, "web.db")
    pw = "correct-horse-battery"
    add_users(db, (("root", "admin"), ("ana", "analyst")), pw)
    sim = run("simulate", "--customers", "300", "--seed", "5", "--weeks", "52", "--start", "2024-01-01").splitlines()
    head, rows = "tx_id," + sim[0], ["%d,%s" % (i + 1, r) for i, r in enumerate(sim[1:])]
    first = "\n".join([head] + rows[: len(rows) * 2 // 3]) + "\n"
    full = "\n".join([head] + rows) + "\n"
    srv = Server(db)
    port = srv.port
    try:
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
        srv.stop()
    finish("all retrain API checks passed")


main()
