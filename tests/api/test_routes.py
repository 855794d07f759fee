#!/usr/bin/env python3
"""The route table of `tessera serve` (server/routes.def, issue 17):
    test_routes.py TESSERA_BINARY BUILD_DIR
1. OpenAPI in sync: every /api/v1 route of the table is described in
   web/openapi.json with its method, and every described operation is a
   route of the table.
2. Authentication on every route: only the listed public routes are PUBLIC
   in the table, and a live server answers every other route, without a
   login, with 401 (API, /metrics) or a redirect to the login page (pages).
Standard library only."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, check, finish, request, temp_dir  # noqa: E402

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PUBLIC = {("GET", "/api/v1"), ("POST", "/api/v1/login"), ("GET", "/login"), ("POST", "/login"),
          ("GET", "/healthz"), ("GET", "/favicon.ico"), ("GET", "/static/*")}


def routes():
    text = open(os.path.join(SRC, "server", "routes.def")).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = []
    for m in re.finditer(r'R\(\s*(HANDLER|VIEW)\s*,\s*"(\w+)"\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*,', text):
        out.append((m.group(2), m.group(3), m.group(4)))
    return out


def norm(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def main():
    table = routes()
    check(len(table) >= 60, "routes.def parsed", len(table))
    api = {(m, norm(p[len("/api/v1"):] or "/")) for m, p, _ in table if p.startswith("/api/v1")}
    spec = json.load(open(os.path.join(SRC, "web", "openapi.json")))
    described = {(m.upper(), norm(p)) for p, ops in spec["paths"].items() for m in ops
                 if m in ("get", "post", "delete", "put", "patch")}
    check(not (api - described), "every API route is in web/openapi.json", sorted(api - described))
    check(not (described - api), "every operation of web/openapi.json is a route", sorted(described - api))
    public = {(m, p) for m, p, role in table if role == "PUBLIC"}
    check(public == PUBLIC, "only the expected routes are public", sorted(public ^ PUBLIC))
    check(all(role in ("PUBLIC", "VIEWER", "ANALYST", "ADMIN") for _, _, role in table), "every route has a role")

    tmp = temp_dir("routes")
    with Server(os.path.join(tmp, "web.db")) as srv:
        port = srv.port
        for method, pattern, role in table:
            if role == "PUBLIC":
                continue
            path = re.sub(r"\{id\}", "1", pattern)
            path = re.sub(r"\{[^}]*\}", "x", path)
            status, _, _, hdrs = request(port, method, path, b"" if method != "GET" else None, timeout=30)
            loc = hdrs.get("location", "")
            if path.startswith("/api/") or path == "/metrics":
                check(status == 401, "%s %s without a login: 401" % (method, pattern), status)
            else:
                check(status == 303 and loc.startswith("/login"), "%s %s without a login: to the login page"
                      % (method, pattern), (status, loc))
    finish("all route checks passed")


main()
