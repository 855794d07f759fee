#!/usr/bin/env python3
"""A password change ends the user's other sessions (issue 17), run by ctest:
    test_sessions.py TESSERA_BINARY BUILD_DIR
Logs one user in three times and another user once, then changes the first
user's password through POST /api/v1/me/password, through the /account form
and with `tessera user passwd`: after each change the user's other sessions
get 401 (at once for the server's own changes, within the server's 5 s login
cache for the command line's), the session that made the change keeps working
(its CSRF token too), and the other user's session is untouched. With
TSR_TEST_PG_URL set (ctest api/test_sessions_pg, inside tests/pg/with_pg.sh)
the server and the accounts use that PostgreSQL database. Standard library only."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Server, add_users, check, finish, run, store, temp_dir  # noqa: E402


def me(cl):
    return cl.req("GET", "/api/v1/me")[0]


def login(port, name, pw):
    cl = Client(port)
    st = cl.login(name, pw)[0]
    check(st == 200, "%s logs in" % name, st)
    return cl


def body(port, db, pw):
    here, phone, laptop = (login(port, "ana", pw) for _ in range(3))
    bob = login(port, "bob", pw)
    check(all(me(c) == 200 for c in (here, phone, laptop, bob)), "four live sessions")

    # ---- the API
    st, js, _, _ = here.req("POST", "/api/v1/me/password", {"current_password": pw, "new_password": "second-secret-2"})
    check(st == 200 and js["changed"], "POST /api/v1/me/password: changed", (st, js))
    check(me(phone) == 401 and me(laptop) == 401, "the user's other sessions get 401 at once", (me(phone), me(laptop)))
    check(me(here) == 200, "the session that changed the password keeps working", me(here))
    check(me(bob) == 200, "another user's session is untouched", me(bob))
    st, js, _, _ = here.req("POST", "/api/v1/me/password",
                            {"current_password": "second-secret-2", "new_password": "third-secret-3"})
    check(st == 200, "the kept session's CSRF token still works", (st, js))
    st, _, _, h = phone.req("GET", "/runs")
    check(st in (302, 303) and h.get("location", "").startswith("/login"), "an ended session's pages lead to the login",
          (st, h.get("location")))

    # ---- the account page
    page, other = login(port, "ana", "third-secret-3"), login(port, "ana", "third-secret-3")
    st, _, raw, _ = page.req("GET", "/account")
    tok = re.search(r'name="csrf" value="([0-9a-f]+)"', raw.decode()).group(1)
    form = "csrf=%s&current_password=third-secret-3&new_password=page-secret-4&confirm_password=page-secret-4" % tok
    st, _, raw, _ = page.req("POST", "/account", form.encode(), ctype="application/x-www-form-urlencoded")
    check(st == 200 and b"password was changed" in raw, "account page: password changed", st)
    check(me(other) == 401 and me(here) == 401, "account page: the user's other sessions get 401", (me(other), me(here)))
    check(me(page) == 200 and me(bob) == 200, "account page: this session and the other user's keep working",
          (me(page), me(bob)))
    # a failed change (wrong current password) ends nothing
    keep = login(port, "ana", "page-secret-4")
    st, _, _, _ = page.req("POST", "/api/v1/me/password", {"current_password": "wrong-one", "new_password": "x-secret-55"})
    check(st == 403 and me(keep) == 200, "a refused change ends no session", (st, me(keep)))

    # ---- the command line (another process: the server's login cache lasts 5 s)
    run("user", "passwd", "ana", "--db", db, stdin="cli-secret-5\n")
    deadline = time.time() + 8
    while time.time() < deadline and (me(page) != 401 or me(keep) != 401):
        time.sleep(0.5)
    check(me(page) == 401 and me(keep) == 401, "tessera user passwd ends every session of the user", (me(page), me(keep)))
    check(me(bob) == 200, "tessera user passwd leaves another user's session", me(bob))
    check(login(port, "ana", "cli-secret-5").cookie is not None, "the new password works")


def main():
    tmp = temp_dir("sessions")
    db = store(tmp, pg=True)
    pw = "correct-horse-battery"
    add_users(db, (("ana", "analyst"), ("bob", "viewer")), pw)
    with Server(db) as srv:
        body(srv.port, db, pw)
    finish("all session checks passed")


if __name__ == "__main__":
    main()
