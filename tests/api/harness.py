"""The harness shared by the API tests of `tessera serve` (tests/api/test_*.py,
run by ctest as `test_X.py TESSERA_BINARY BUILD_DIR`). Standard library only.

- TSR, ENV: the binary (argv[1]) and its environment (fast password hashing,
  no progress bars); PG_URL: the throwaway PostgreSQL of tests/pg/with_pg.sh
  (ctest api/test_*_pg), else "".
- check(cond, what, detail): prints "ok   what" or "FAIL what: detail" and
  records the failure; finish(message) ends the test: exit 1 after listing
  the failures and the output of every server started, else prints message.
- run(*args): runs tessera, stops the test when it fails; add_users,
  user_token: accounts and API tokens through `tessera user`.
- Server(db, *args): `tessera serve --listen 127.0.0.1:0 --db db *args`,
  started and waited for (its address line; the test stops with the
  server's output when it does not start); .port, .line; .stop() sends
  SIGTERM, waits (kills after 30 s) and returns the exit code (-1 when it
  had to be killed); .err is its standard error. A context manager (stopped
  on leaving the block).
- request(port, method, path, ...): one HTTP request -> (status, JSON or
  None, body bytes, lower-case headers); Client: a browser-like session
  (cookie, CSRF token, bearer token); login_token: an API token by login.
"""
import atexit
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

TSR = os.path.abspath(sys.argv[1])
ENV = dict(os.environ, TESSERA_TEST_FAST_HASH="1", TESSERA_NO_PROGRESS="1")
PG_URL = os.environ.get("TSR_TEST_PG_URL", "")
PW = "correct-horse-battery"
FAILS = []


def check(cond, what, detail="", limit=None):
    text = str(detail)[:limit] if limit else str(detail)
    print(("ok   " if cond else "FAIL ") + what + ("" if cond or not detail else ": " + text))
    if not cond:
        FAILS.append(what)


def run(*args, stdin=None):
    p = subprocess.run([TSR, *args], input=stdin, capture_output=True, text=True, env=ENV)
    if p.returncode != 0:
        raise SystemExit("tessera %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
    return p.stdout


def temp_dir(name):
    return tempfile.mkdtemp(prefix="tsr-%s-" % name)


def store(tmp, name="web.db", pg=False):
    """The database of a test: with pg, the PostgreSQL of tests/pg/with_pg.sh
    when it is set; else a SQLite file name in tmp."""
    return (pg and PG_URL) or os.path.join(tmp, name)


def add_users(db, users, pw=PW):
    for name, role in users:
        run("user", "add", name, "--role", role, "--db", db, stdin=pw + "\n")


def user_token(db, name):
    return run("user", "token", name, "--db", db).strip()


def analyst_token(db, pw, name="ana"):
    """A new analyst account and its API token."""
    add_users(db, ((name, "analyst"),), pw)
    return user_token(db, name)


def request(port, method, path, body=None, token=None, headers=None, ctype=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    if ctype:
        h["Content-Type"] = ctype
    try:
        c.request(method, path, body=body, headers=h)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered (413) before reading the whole body and closed
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    js = json.loads(data.decode()) if hdrs.get("content-type", "").startswith("application/json") else None
    return r.status, js, data, hdrs


def login_token(port, name, pw):
    st, js, _, _ = request(port, "POST", "/api/v1/login", {"name": name, "password": pw, "token": True})
    if st != 200:
        raise SystemExit("login %s: %d %s" % (name, st, js))
    return js["token"]


def wait_job(cl, job_id, timeout=120):
    """Polls a job through Client cl until it is no longer queued or running."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        st, js, _, _ = cl.req("GET", "/api/v1/jobs/%d" % job_id)
        if js["job"]["state"] not in ("queued", "running"):
            return js["job"]
        time.sleep(0.1)
    raise SystemExit("job %d did not finish" % job_id)


class Client:
    """A session: the cookie and CSRF token of a login, or a bearer token.
    req returns (status, JSON or None, body, lower-case headers); the body
    is text with text=True, else bytes."""

    def __init__(self, port, text=False):
        self.port = port
        self.text = text
        self.cookie = None
        self.csrf = None
        self.token = None

    def req(self, method, path, body=None, headers=None, csrf=True, ctype=None):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        if csrf and self.csrf and method != "GET":
            h["X-CSRF-Token"] = self.csrf
        st, js, data, hdrs = request(self.port, method, path, body, self.token, h, ctype)
        return st, js, data.decode("utf-8", "replace") if self.text else data, hdrs

    def login(self, name, pw):
        st, js, _, h = self.req("POST", "/api/v1/login", {"name": name, "password": pw})
        if st == 200:
            self.cookie = h["set-cookie"].split(";")[0]
            self.csrf = js["csrf"]
        return st, js, h


class Server:
    started = []

    def __init__(self, db, *args):
        self.rc = None
        self.err = ""
        self.errfile = tempfile.TemporaryFile(mode="w+", prefix="tsr-serve-err-")
        self.proc = subprocess.Popen([TSR, "serve", "--listen", "127.0.0.1:0", "--db", db, *args],
                                     stdout=subprocess.PIPE, stderr=self.errfile, text=True, env=ENV)
        Server.started.append(self)
        self.line = self.proc.stdout.readline()
        if "listening on" not in self.line:
            self.stop()
            raise SystemExit("serve did not start: %r %s" % (self.line, self.err))
        self.port = int(self.line.strip().rsplit(":", 1)[1])

    def stop(self, timeout=30):
        if self.rc is not None:
            return self.rc
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.rc = -1
        self.proc.stdout.close()
        self.errfile.seek(0)
        self.err = self.errfile.read()
        self.errfile.close()
        return self.rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


@atexit.register
def _stop_all():
    """No server outlives its test (an exception outside a with block)."""
    for s in Server.started:
        s.stop()


def finish(message):
    if FAILS:
        for s in Server.started:
            s.stop()
            print("--- output of tessera serve (%s, exit %s):" % (s.line.strip() or "did not start", s.rc))
            print(s.err[-4000:] if s.err else "(none)")
        print("%d failure(s): %s" % (len(FAILS), ", ".join(FAILS)))
        sys.exit(1)
    print(message)
