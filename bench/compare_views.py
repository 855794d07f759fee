#!/usr/bin/env python3
"""Replays the customer-view requests of the web server against two tessera
binaries and compares the bodies byte for byte; with --time, also reports the
server CPU time per request of each kind (bench/bench_views.sh).

    compare_views.py OLD_BIN NEW_BIN DB [--customers N] [--previews N] [--run ID] [--time] [--seed S]

DB is a SQLite database holding a completed `tessera analyze` run of a bundle (its
output folder with churn.csv, nbp.csv, goals.csv, graph.csv...). Each server
gets its own copy of DB (accounts are added to the copies). Requests: the
customer view, the message preview (default and SMS templates), the churn
and next-best-products API, at-risk lists and segment profiles, for N
customers sampled over the whole of the run's customers.csv (first, last,
merged records and household members of graph.csv, unknown ids); message
previews for the first --previews of them (default 8: up to s13 the first
preview of a run took tens of seconds on a 300k run). Exit 1 when
a body or status differs. Standard library only."""
import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ENV = dict(os.environ, TESSERA_TEST_FAST_HASH="1", TESSERA_NO_PROGRESS="1")
PW = "correct-horse-battery"


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, binary, db, tmp):
        self.db = os.path.join(tmp, os.path.basename(binary) + "-" + str(id(self)) + ".db")
        shutil.copyfile(db, self.db)
        subprocess.run([binary, "user", "add", "bench", "--role", "analyst", "--db", self.db], input=PW + "\n",
                       text=True, env=ENV, check=True, capture_output=True)
        self.token = subprocess.run([binary, "user", "token", "bench", "--db", self.db], text=True, env=ENV,
                                    check=True, capture_output=True).stdout.strip()
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--db", self.db],
                                     stdout=subprocess.PIPE, stderr=self.err, text=True, env=ENV)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.stop()
            raise SystemExit("serve did not start: %r" % line)
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def request(self, method, path, body=None):
        h = {"Authorization": "Bearer " + self.token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
                if attempt:
                    raise

    def peak_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return -1

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        self.conn.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def first_column(path):
    ids = []
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        next(f, None)
        for line in f:
            ids.append(line.split(",", 1)[0].strip('"\r\n'))
    return ids


def main():
    args = sys.argv[1:]
    timing = "--time" in args
    n = 60
    npreview = 8
    if "--previews" in args:
        npreview = int(args[args.index("--previews") + 1])
    seed = 1
    run = None
    if "--customers" in args:
        n = int(args[args.index("--customers") + 1])
    if "--seed" in args:
        seed = int(args[args.index("--seed") + 1])
    if "--run" in args:
        run = int(args[args.index("--run") + 1])
    pos = [a for i, a in enumerate(args) if not a.startswith("--") and (i == 0 or args[i - 1] not in
                                                                          ("--customers", "--seed", "--run",
                                                                                             "--previews"))]
    if len(pos) != 3:
        raise SystemExit(__doc__)
    old_bin, new_bin, db = pos
    tmp = tempfile.mkdtemp(prefix="tsr-cmpviews-")
    old = Server(os.path.abspath(old_bin), db, tmp)
    new = Server(os.path.abspath(new_bin), db, tmp)
    try:
        con = sqlite3.connect("file:%s?mode=ro" % os.path.abspath(db), uri=True)
        done = con.execute("SELECT id, output_dir FROM runs WHERE status = 'done' AND output_dir IS NOT NULL "
                           "ORDER BY id").fetchall()
        con.close()
        if run is None:
            run = done[-1][0]
        out = dict(done)[run]
        rnd = random.Random(seed)
        ids = first_column(os.path.join(out, "customers.csv"))
        pick = [ids[0], ids[-1]] + rnd.sample(ids, min(n, len(ids)))
        gpath = os.path.join(out, "graph.csv")
        if os.path.exists(gpath):
            rows = []
            with open(gpath, newline="", encoding="utf-8", errors="replace") as f:
                next(f, None)
                for line in f:
                    rows.append(line.rstrip("\r\n").split(","))
            same = [r for r in rows if len(r) > 2 and r[2] == "same_person"]
            memb = [r for r in rows if len(r) > 2 and r[2] == "member_of"]
            for r in rnd.sample(same, min(len(same), max(4, n // 6))):
                pick += [r[0], r[1]]
            for r in rnd.sample(memb, min(len(memb), max(4, n // 6))):
                pick += [r[0]]
        pick += ["no-such-customer", "x" * 40]
        groups = {"view": [], "preview": [], "predict": [], "at-risk": [], "segment-profiles": []}
        for i, c in enumerate(pick):
            q = "/api/v1/runs/%d/customers/%s" % (run, c)
            groups["view"].append(("GET", q + "/view", None))
            if i < npreview:
                groups["preview"].append(("POST", q + "/message", {}))
                groups["preview"].append(("POST", q + "/message", {"channel": "sms", "offer_name": "Gold card"}))
            groups["predict"].append(("GET", "/api/v1/customers/%s/churn" % c, None))
            groups["predict"].append(("GET", "/api/v1/customers/%s/next-best-products" % c, None))
        for lim in (1, 5, 20, 100):
            groups["at-risk"].append(("GET", "/api/v1/runs/%d/at-risk?limit=%d" % (run, lim), None))
        groups["segment-profiles"].append(("GET", "/api/v1/runs/%d/segment-profiles" % run, None))
        total = same_n = 0
        report = []
        for g, reqs in groups.items():
            if not reqs:
                continue
            t = {}
            for name, srv in (("old", old), ("new", new)):
                c0 = srv.cpu()
                first = None
                res = []
                for i, (m, p, b) in enumerate(reqs):
                    res.append(srv.request(m, p, b))
                    if i == 0:
                        first = srv.cpu() - c0
                t[name] = (srv.cpu() - c0, first, res)
            for i, (m, p, b) in enumerate(reqs):
                total += 1
                if t["old"][2][i] == t["new"][2][i]:
                    same_n += 1
                else:
                    print("DIFF %s %s\n  old %d %r\n  new %d %r" % (m, p, t["old"][2][i][0], t["old"][2][i][1][:300],
                                                                   t["new"][2][i][0], t["new"][2][i][1][:300]))
            k = len(reqs)
            report.append("%-17s %4d requests  server CPU per request: old %9.3f ms  new %9.3f ms  "
                          "(first request: old %.3f s, new %.3f s)" %
                          (g, k, 1000 * t["old"][0] / k, 1000 * t["new"][0] / k, t["old"][1], t["new"][1]))
        st, m = new.request("GET", "/metrics")
        print("%d requests, %d byte-identical" % (total, same_n))
        if timing:
            print("\n".join(report))
            print("server peak RSS: old %d kB, new %d kB" % (old.peak_kb(), new.peak_kb()))
            print("".join(l + "\n" for l in m.decode().splitlines() if l.startswith("tessera_view_files")), end="")
        return 0 if total == same_n else 1
    finally:
        old.stop()
        new.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
