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
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, add_users, check, finish, temp_dir  # noqa: E402


def main():
    if not shutil.which("openssl"):
        print("SKIP: openssl missing")
        sys.exit(77)
    tmp = temp_dir("tls")
    cert, key, db = (os.path.join(tmp, n) for n in ("c.pem", "k.pem", "w.db"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    add_users(db, (("ana", "viewer"),), "long-password")
    with Server(db, "--tls-cert", cert, "--tls-key", key) as srv:
        check(srv.line.startswith("tessera: listening on https://"), "the server listens on https", srv.line)
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        c = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=30)
        c.request("POST", "/api/v1/login", body=json.dumps({"name": "ana", "password": "long-password"}),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        cookie = r.getheader("Set-Cookie") or ""
        check(r.status == 200 and "; Secure" in cookie and "HttpOnly" in cookie,
              "login over TLS: a Secure, HttpOnly session cookie", (r.status, cookie))
        check("max-age" in (r.getheader("Strict-Transport-Security") or ""), "HSTS header")
        c.close()
    check(srv.rc == 0, "SIGTERM stops the server cleanly (exit 0)", srv.rc)
    finish("ok   HTTPS: Secure session cookie, HSTS")


if __name__ == "__main__":
    main()
