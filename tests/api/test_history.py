#!/usr/bin/env python3
"""A customer's purchase history in the API and on its page (server/views.c),
run by ctest: test_history.py TESSERA_BINARY BUILD_DIR
Since schema version 4 a run stores each customer's history as text in the
customer's row (customers.history); the answer carries every active day with
its purchases and exact amount. A row without it (NULL: a run stored before
version 4) is answered from the web_history table, as before. Standard
library only."""
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Server, add_users, check, finish, run, temp_dir, user_token, request, PW  # noqa: E402

tmp = temp_dir("history")
tx = os.path.join(tmp, "tx.csv")
with open(tx, "w") as f:
    f.write("customer_id,date,amount\n"
            "a,2024-01-01,0.1\n"
            "a,2024-01-01,0.2\n"      # one day, 2 purchases, 0.30000000000000004
            "a,2024-01-15,20\n"
            "b,2024-01-03,100\n"
            "b,2024-02-03,7.25\n"
            "r,2024-01-12,-7\n")      # refunds only: no customers row
db = os.path.join(tmp, "h.db")
run("analyze", tx, "--model", "none", "--cluster", "none", "-o", os.path.join(tmp, "out"), "--db", db, "-q")

con = sqlite3.connect(db)
hist = dict(con.execute("SELECT customer_id, history FROM customers WHERE run_id = 1"))
check(hist.get("a") == "19723*2,~0.30000000000000004;14,2000", "a's history is in its row", hist)
check(hist.get("b") == "19725,10000;31,725", "b's history is in its row", hist)
wh = [r[0] for r in con.execute("SELECT DISTINCT customer_id FROM web_history")]
check(wh == ["r"], "only the refunds-only customer has web_history rows", wh)
# b as a run stored before version 4: no text in the row, rows in web_history
con.execute("UPDATE customers SET history = NULL WHERE customer_id = 'b'")
con.execute("INSERT INTO web_history(run_id, customer_id, day, ntx, amount) VALUES (1, 'b', 19800, 3, 12.5)")
con.commit()
con.close()

add_users(db, (("adm", "admin"),))
tok = user_token(db, "adm")
with Server(db) as s:
    st, a, _, _ = request(s.port, "GET", "/api/v1/runs/1/customers/a", token=tok)
    want = [{"date": "2024-01-01", "purchases": 2, "amount": 0.1 + 0.2},
            {"date": "2024-01-15", "purchases": 1, "amount": 20.0}]
    check(st == 200 and a["history"] == want, "history from the row: days, purchases, exact amounts", a)
    st, b, _, _ = request(s.port, "GET", "/api/v1/runs/1/customers/b", token=tok)
    check(st == 200 and b["history"] == [{"date": "2024-03-18", "purchases": 3, "amount": 12.5}],
          "history of a row without text: from web_history", b)
    cl = Client(s.port, text=True)
    cl.login("adm", PW)
    st, _, page, _ = cl.req("GET", "/runs/1/customers/a")
    check(st == 200 and "2024-01-15" in page and "2024-01-01" in page, "customer page lists the row's days")
    st, _, page, _ = cl.req("GET", "/runs/1/customers/b")
    check(st == 200 and "2024-03-18" in page,
          "customer page of an old row lists web_history's days")
finish("history from the row and from web_history")
