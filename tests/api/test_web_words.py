#!/usr/bin/env python3
"""Web messages in words, and a failed run that leads back (issue 10):
    test_web_words.py TESSERA_BINARY BUILD_DIR
A run that fails (more rejected rows than max_errors allows) says why in the
job, the run, its page and the event log without naming a command-line
option ("--max-errors") or a path of the server's files (the data folder);
the failed run's page links to its dataset with the column mapping, whose
form comes back filled in with the run's inputs. The 413 of an oversized
upload names the upload limit in words. Standard library only."""
import html
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Server, add_users, check, finish, temp_dir  # noqa: E402


def clean(text, data_dir, what):
    check("--" not in text, what + ": no command-line option", text[:300])
    check(data_dir not in text and "/uploads/" not in text, what + ": no path of the server's files", text[:300])


def main():
    tmp = temp_dir("words")
    db = os.path.join(tmp, "web.db")
    data_dir = db + ".data"
    pw = "correct-horse-battery"
    add_users(db, (("ana", "analyst"),), pw)
    with Server(db, "--max-upload", "5000") as srv:
        body(Client(srv.port, text=True), data_dir, pw)
    finish("all web wording checks passed")


def body(cl, data_dir, pw):
    st, js, _, h = cl.req("POST", "/api/v1/login", {"name": "ana", "password": pw})
    cl.cookie, cl.csrf = h["set-cookie"].split(";")[0], js["csrf"]
    rows = ["customer_id,date,amount"] + ["c%d,2024-01-%02d,%d" % (i % 4, i + 1, 10 + i) for i in range(8)]
    rows.append("c9,not-a-date,5")
    st, ds, _, _ = cl.req("POST", "/api/v1/datasets?name=shop-sales.csv", ("\n".join(rows) + "\n").encode(),
                          ctype="text/csv")
    check(st == 201, "upload", (st, ds))
    params = {"customer_col": "customer_id", "date_col": "date", "amount_col": "amount", "max_errors": "0",
              "model": "none", "cluster": "none"}
    st, js, _, _ = cl.req("POST", "/api/v1/runs", {"dataset_id": ds["id"], "params": params})
    check(st == 202, "run start", (st, js))
    jid = js["job"]["id"]
    for _ in range(600):
        st, js, _, _ = cl.req("GET", "/api/v1/jobs/%d" % jid)
        if js["job"]["state"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    job = js["job"]
    check(job["state"] == "failed" and job["error"], "the run fails (a rejected row, max_errors 0)", job)
    err = job["error"] or ""
    print("     job error: " + err)
    clean(err, data_dir, "job error")
    check("maximum rejected rows" in err, "the job error names the input in the form's words", err)
    # two columns of one name: the library names the column input, the web says it in words
    rows2 = ["customer_id,date,amount,Amount", "c1,2024-01-01,1,2"]
    st, ds2, _, _ = cl.req("POST", "/api/v1/datasets?name=twice.csv", ("\n".join(rows2) + "\n").encode(),
                           ctype="text/csv")
    check(st == 201, "upload (two amount columns)", (st, ds2))
    st, js, _, _ = cl.req("POST", "/api/v1/runs", {"dataset_id": ds2["id"], "params": dict(params, amount_col="")})
    check(st == 202, "run start (two amount columns)", (st, js))
    for _ in range(600):
        st, js2, _, _ = cl.req("GET", "/api/v1/jobs/%d" % js["job"]["id"])
        if js2["job"]["state"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    cerr = js2["job"]["error"] or ""
    print("     column error: " + cerr)
    clean(cerr, data_dir, "column error")
    check('the "amount column" input' in cerr and "amount_col" not in cerr,
          "the column error names the column input in the form's words", cerr)
    run_id = job["run_id"]
    st, run, _, _ = cl.req("GET", "/api/v1/runs/%d" % run_id)
    check(st == 200 and run["status"] == "failed", "run failed", run and run.get("status"))
    clean(run["error"] or "", data_dir, "run error")
    st, ev, _, _ = cl.req("GET", "/api/v1/runs/%d/events" % run_id)
    msgs = " | ".join(e["message"] for e in ev["events"])
    clean(msgs, data_dir, "event log")
    check("shop-sales.csv" in msgs, "the event log names the dataset by its uploaded name", msgs[:300])
    st, _, page, _ = cl.req("GET", "/runs/%d" % run_id)
    check(st == 200, "run page", st)
    clean(html.unescape(re.sub(r"<[^>]+>", " ", page)), data_dir, "run page")
    link = "/datasets/%d?run=%d#column-mapping" % (ds["id"], run_id)
    check('href="%s"' % link in page, "the failed run's page links to its dataset and column mapping", link)
    st, _, form, _ = cl.req("GET", link.split("#")[0])
    check(st == 200 and 'id="column-mapping"' in form and 'id="form-from-run"' in form,
          "the dataset page shows the column mapping of the run", st)
    check(re.search(r'name="max_errors"[^>]*value="0"', form) is not None, "the run's max_errors is filled in")
    check(re.search(r'<option value="customer_id" selected>', form) is not None,
          "the run's customer column is selected")
    st, _, page, _ = cl.req("GET", "/jobs/%d" % jid)
    check('href="%s"' % link in page, "the failed job's page links back too")
    clean(html.unescape(re.sub(r"<[^>]+>", " ", page)), data_dir, "job page")
    st, js, _, _ = cl.req("POST", "/api/v1/datasets", b"x" * 6000, ctype="text/csv")
    check(st == 413 and "upload limit" in js["error"]["message"], "413 names the upload limit in words", js)
    clean(js["error"]["message"], data_dir, "413 message")
    st, js, _, _ = cl.req("POST", "/api/v1/runs", {"dataset_id": ds["id"], "params": {"date_format": "%Q%Q"}})
    check(st == 400, "a bad input is refused", (st, js))
    clean(js["error"]["message"], data_dir, "input error")


main()
