#!/usr/bin/env python3
"""`tessera serve --tls-cert/--tls-key` (issue 6), run by ctest:
    test_tls.py TESSERA_BINARY BUILD_DIR
A self-signed certificate (openssl) is made for 127.0.0.1; over HTTPS the
session cookie carries Secure and answers carry HSTS. Exit 77 (skipped) when
openssl is missing."""
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile

TSR = os.path.abspath(sys.argv[1])
ENV = dict(os.environ, TESSERA_TEST_FAST_HASH="1")


def main():
    if not shutil.which("openssl"):
        print("SKIP: openssl missing")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="tsr-tls-")
    cert, key, db = (os.path.join(tmp, n) for n in ("c.pem", "k.pem", "w.db"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    subprocess.run([TSR, "user", "add", "ana", "--role", "viewer", "--db", db], input="long-password\n",
                   text=True, check=True, env=ENV)
    srv = subprocess.Popen([TSR, "serve", "--listen", "127.0.0.1:0", "--db", db, "--tls-cert", cert,
                            "--tls-key", key], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    fails = []
    try:
        line = srv.stdout.readline()
        if not line.startswith("tessera: listening on https://"):
            fails.append("no https address: %r %s" % (line, srv.stderr.read() if srv.poll() is not None else ""))
            return fails
        port = int(line.strip().rsplit(":", 1)[1])
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
        c.request("POST", "/api/v1/login", body=json.dumps({"name": "ana", "password": "long-password"}),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        cookie = r.getheader("Set-Cookie") or ""
        if r.status != 200 or "; Secure" not in cookie or "HttpOnly" not in cookie:
            fails.append("login over TLS: %d %s" % (r.status, cookie))
        if "max-age" not in (r.getheader("Strict-Transport-Security") or ""):
            fails.append("no HSTS header")
        c.close()
    finally:
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait(timeout=30)
        if rc != 0:
            fails.append("exit code %d" % rc)
    return fails


if __name__ == "__main__":
    f = main()
    for x in f:
        print("FAIL " + x)
    if f:
        sys.exit(1)
    print("ok   HTTPS: Secure session cookie, HSTS")
